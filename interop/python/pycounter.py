#!/usr/bin/python3
"""pycounter: a hive service written in Python, from the wire contract alone.

It counts words. It joins a hive of Go services the way every hive service
does, through the brokers, and shows each part of PROTOCOL.md in a few lines:

  discovery  an ephemeral ZooKeeper node /<ns>/services/pycounter/<id>, JSON
  RPC        POST /rpc/add {"word": "bee"}  ->  {"word": "bee", "count": 1}
             and the three built-ins: ping, status, inspect
  calls      add asks the Go service "dictionary" (dictionary.check) first
  events     consumes "word.seen", emits "word.counted" with the same trace id;
             a handler that fails goes through hive's retry queue to ".dead"

It needs Debian's python3-kazoo and python3-pika, nothing else:
  sudo apt-get install python3-kazoo python3-pika
  HIVE_NAMESPACE=hive /usr/bin/python3 interop/python/pycounter.py
"""
import json, os, re, secrets, signal, socket, sys, threading, time
import urllib.error, urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import kazoo.client, pika

SERVICE = "pycounter"
NS = os.environ.get("HIVE_NAMESPACE", "hive")
ZOOKEEPER = os.environ.get("HIVE_ZOOKEEPER", "127.0.0.1:2181")
AMQP_URL = os.environ.get("HIVE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
LISTEN = os.environ.get("HIVE_LISTEN", "127.0.0.1:0")
ATTEMPTS = int(os.environ.get("HIVE_EVENT_ATTEMPTS", "3"))
MAX_BODY = 1 << 20  # hive's limit on request bodies and event messages
INSTANCE = f"{SERVICE}-{secrets.token_hex(3)}"


def log(*words):
    print(f"{SERVICE}:", *words, file=sys.stderr, flush=True)


def now():
    """The time as hive writes it: RFC 3339 in UTC. A time without zone
    ("2026-12-02T10:00:00") makes Go reject the whole record."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_id():
    return secrets.token_hex(8)  # 16 hex digits, like hive's ids


def seconds(duration):
    """Parses a Go duration such as "1.5s", "300ms" or "1m0s" (Hive-Timeout)."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration.lstrip("+"):
        raise ValueError(duration)
    return sum(float(n) * units[u] for n, u in parts)


TRACE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def continue_trace(trace):
    """Keeps a caller's trace id if it is one hive would keep, else starts one."""
    return trace if trace and TRACE_ID.fullmatch(trace) else new_id()


class HiveError(Exception):
    """A failure with a hive error code; it crosses the wire as an envelope."""
    STATUS = {"bad_request": 400, "not_found": 404, "conflict": 409,
              "unavailable": 503, "timeout": 504, "internal": 500}

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message

    def envelope(self):
        return self.STATUS.get(self.code, 500), {"error": {"code": self.code, "message": self.message}}


class Counter:
    """The service's state and its counters for status, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.words = {}
        self.stats = dict(calls=0, errors=0, in_flight=0, events_handled=0, events_failed=0, events_emitted=0)

    def add(self, word):
        with self.lock:
            self.words[word] = self.words.get(word, 0) + 1
            return self.words[word]

    def bump(self, key, by=1):
        with self.lock:
            self.stats[key] += by


STATE = Counter()
ZK = kazoo.client.KazooClient(hosts=ZOOKEEPER)
RECORD = {}  # this instance's registry record, filled in by main


# --- Calling a hive service --------------------------------------------------

def call(method, request, trace, timeout=5.0):
    """Calls "service.method" on one live instance found in ZooKeeper."""
    service, name = method.split(".", 1)
    path = f"/{NS}/services/{service}"
    ids = ZK.get_children(path) if ZK.exists(path) else []
    if not ids:
        raise HiveError("unavailable", f"no instance of {service} is registered")
    record = json.loads(ZK.get(f"{path}/{ids[0]}")[0])
    req = urllib.request.Request(f"http://{record['endpoint']}/rpc/{name}", method="POST",
                                 data=json.dumps(request).encode(), headers={
        "Content-Type": "application/json", "Hive-Trace-Id": trace,
        "Hive-Service": service, "Hive-Timeout": f"{timeout}s"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return json.load(res)
    except urllib.error.HTTPError as err:  # any status but 200: an error envelope
        e = json.load(err).get("error") or {}
        raise HiveError(e.get("code", "internal"), f"{method}: {e.get('message', '')}")
    except OSError as err:
        raise HiveError("unavailable", f"{method}: {err}")


# --- Serving RPCs --------------------------------------------------------------

def add(request, trace):
    """pycounter.add: counts a word the Go dictionary knows."""
    word = request.get("word") if isinstance(request, dict) else None
    if not isinstance(word, str) or not word:
        raise HiveError("bad_request", 'the request needs a word, e.g. {"word": "bee"}')
    if not call("dictionary.check", {"word": word}, trace).get("known"):
        raise HiveError("not_found", f"the dictionary does not know {json.dumps(word)}")
    return {"word": word, "count": STATE.add(word)}


def status(request, trace):
    with STATE.lock:
        stats = dict(STATE.stats, in_flight=STATE.stats["in_flight"] - 1)  # not this call
    return {"service": SERVICE, "instance": INSTANCE, "version": RECORD["version"], "endpoint": RECORD["endpoint"],
            "started": RECORD["started"], **stats, "latency_p50_ms": 0.0, "latency_p99_ms": 0.0}


def inspect(request, trace):
    return {"service": SERVICE,
            "methods": [{"name": "add", "request_type": "pycounter.AddRequest", "request": {"word": ""},
                         "response_type": "pycounter.AddReply", "response": {"word": "", "count": 0}}]
            + [{"name": n, "builtin": True, "idempotent": True} for n in ("ping", "status", "inspect")],
            "events": [{"pattern": "word.seen", "body_type": "pycounter.Seen", "body": {"word": ""}}]}


METHODS = {"add": add, "ping": lambda request, trace: {"service": SERVICE, "instance": INSTANCE},
           "status": status, "inspect": inspect}


class RPC(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Go's client expects

    def answer(self):
        trace = continue_trace(self.headers.get("Hive-Trace-Id"))
        STATE.bump("in_flight")
        try:
            status, body = 200, self.run(trace)
        except HiveError as e:
            status, body = e.envelope()
        except Exception as e:  # a bug: the caller learns only that it broke
            log("method failed:", repr(e))
            status, body = HiveError("internal", f"an unexpected failure in {INSTANCE}").envelope()
        STATE.bump("in_flight", -1)
        STATE.bump("calls")
        STATE.bump("errors", int(status != 200))
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        for name, value in (("Content-Type", "application/json"), ("Hive-Service", SERVICE),
                            ("Hive-Trace-Id", trace), ("Content-Length", str(len(data)))):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def run(self, trace):
        # The checks in hive's order: the service meant, the timeout, the path,
        # the HTTP method, the RPC method, the body.
        wanted = self.headers.get("Hive-Service")
        if wanted and wanted != SERVICE:
            raise HiveError("unavailable", f"this is an instance of {SERVICE}, not of {json.dumps(wanted)}")
        if self.headers.get("Hive-Timeout"):
            try:
                if seconds(self.headers["Hive-Timeout"]) <= 0:
                    raise HiveError("timeout", "the caller's deadline passed before the call arrived")
            except ValueError:
                raise HiveError("bad_request", "the Hive-Timeout header must be a duration, such as 1.5s or 300ms")
        if not self.path.startswith("/rpc/"):
            raise HiveError("not_found", f"there is nothing at {self.path}: methods are under /rpc/")
        if self.command not in ("POST", "GET"):
            raise HiveError("bad_request", f"use POST (or GET without a body) to call a method, not {self.command}")
        name = self.path[len("/rpc/"):]
        if name not in METHODS:
            raise HiveError("not_found", f"service {SERVICE} has no method {json.dumps(name)}; it has {', '.join(METHODS)}")
        size = int(self.headers.get("Content-Length") or 0)
        if size > MAX_BODY:
            self.close_connection = True
            raise HiveError("bad_request", f"the request body is larger than the limit of {MAX_BODY} bytes")
        raw = self.rfile.read(size)
        try:
            request = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            raise HiveError("bad_request", f"the request is not valid JSON: {e}")
        return METHODS[name](request, trace)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = answer

    def log_message(self, *args):  # quiet: the counters tell the story
        pass


# --- Events --------------------------------------------------------------------

def declare(channel, pattern, retry_ms):
    """Declares a subscription's queues exactly as hive does, and binds it."""
    work = f"{NS}.{SERVICE}.{pattern}"  # hive names a handler's queue after its pattern
    channel.exchange_declare(NS, "topic", durable=True)
    channel.queue_declare(work, durable=True)
    channel.queue_declare(work + ".retry", durable=True, arguments={
        "x-message-ttl": retry_ms,  # after the delay, back into the work queue:
        "x-dead-letter-exchange": "", "x-dead-letter-routing-key": work})
    channel.queue_declare(work + ".dead", durable=True)
    channel.queue_bind(work, NS, routing_key=pattern)
    return work


def publish(channel, exchange, key, body, message_id, kind, headers=None):
    """Publishes as hive does: persistent, mandatory, confirmed. pika raises
    UnroutableError if the broker returned the message, NackError if it lost it."""
    channel.basic_publish(exchange, key, body, mandatory=True, properties=pika.BasicProperties(
        content_type="application/json", delivery_mode=2, message_id=message_id, type=kind,
        timestamp=int(time.time()), headers=headers or {}))


def emit(channel, kind, body, trace):
    event = {"id": new_id(), "type": kind, "source": INSTANCE, "trace_id": trace, "time": now(), "body": body}
    publish(channel, NS, kind, json.dumps(event).encode(), event["id"], kind)
    STATE.bump("events_emitted")


def on_word_seen(event, channel):
    """Handles word.seen: counts the word and tells the hive, same trace."""
    word = event["body"]["word"]
    if word == "boom":
        raise RuntimeError("cannot count boom")  # on purpose: shows the way to .dead
    emit(channel, "word.counted", {"word": word, "count": STATE.add(word)}, event.get("trace_id") or new_id())


def settle(ch, method, props, body, queue, headers, header, value):
    """Fails a delivery as hive does: a copy with one header set goes to the
    retry or the dead-letter queue, and only once it is confirmed is the
    original acked: if we die in between, the event comes twice, but it is not lost."""
    publish(ch, "", queue, body, props.message_id, props.type, dict(headers, **{header: value}))
    ch.basic_ack(method.delivery_tag)


def consume(channel, work, handler):
    def deliver(ch, method, props, body):
        headers = {k: v for k, v in (props.headers or {}).items() if not k.startswith("x-")}
        attempt = headers.get("hive-attempt", 1)  # anyone may publish: trust no header
        attempt = min(max(attempt, 1), ATTEMPTS) if isinstance(attempt, int) else 1
        try:
            event = json.loads(body) if len(body) <= MAX_BODY else None
            if not isinstance(event, dict) or not event.get("type"):
                raise ValueError("no type")
        except ValueError as e:  # no retry can make it an event
            return settle(ch, method, props, body, work + ".dead", headers, "hive-reason", f"not an event: {e}")
        try:
            handler(event, ch)
            STATE.bump("events_handled")
            ch.basic_ack(method.delivery_tag)
        except Exception as e:
            STATE.bump("events_failed")
            log("handler failed, attempt", attempt, "of", ATTEMPTS, ":", e)
            if attempt < ATTEMPTS:
                settle(ch, method, props, body, work + ".retry", headers, "hive-attempt", attempt + 1)
            else:
                settle(ch, method, props, body, work + ".dead", headers, "hive-reason", f"failed {attempt} times: {e}")

    channel.basic_qos(prefetch_count=1)
    channel.basic_consume(work, deliver)


# --- Start and stop ------------------------------------------------------------

def main():
    retry = seconds(os.environ.get("HIVE_EVENT_RETRY_DELAY", "1s"))
    ZK.start(timeout=10)  # add calls through it
    host, port = LISTEN.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), RPC)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.confirm_delivery()  # every publish waits for the broker's confirm
    consume(channel, declare(channel, "word.seen", int(retry * 1000)), on_word_seen)

    # Register last, when everything serves: callers may come at once.
    RECORD.update(id=INSTANCE, service=SERVICE, endpoint=f"{host}:{server.server_address[1]}",
                  version="py-1", host=socket.gethostname(), pid=os.getpid(), started=now())
    ZK.create(f"/{NS}/services/{SERVICE}/{INSTANCE}", json.dumps(RECORD).encode(),
              ephemeral=True, makepath=True)
    log("serving", RECORD["endpoint"], "in namespace", NS)

    signal.signal(signal.SIGTERM, lambda *_: connection.add_callback_threadsafe(channel.stop_consuming))
    try:
        channel.start_consuming()
    except KeyboardInterrupt:
        pass
    ZK.stop()  # the session ends: ZooKeeper deletes our node at once
    server.shutdown()
    connection.close()
    log("stopped")


if __name__ == "__main__":
    main()
