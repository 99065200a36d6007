#!/usr/bin/python3
"""pycounter: a hive service in Python, written from PROTOCOL.md alone.

It counts words. It joins a hive of Go services through the same brokers,
and each part of the wire contract takes a few lines here:

  registry  an ephemeral ZooKeeper node /<ns>/services/pycounter/<id>, JSON
  RPC       POST /rpc/add {"word": "bee"}  ->  {"word": "bee", "count": 1},
            and the three built-ins every instance answers: ping, status, inspect
  calls     add asks the Go service "dictionary" first (dictionary.check),
            only an instance of a version in DICTIONARY_RANGE (such as ^1) if set
  events    consumes "word.seen" and emits "word.counted" in the same trace;
            a handler that fails waits in the delay tiers, then goes to ".dead"

It needs Debian's python3-kazoo and python3-pika and the standard library:
  sudo apt-get install python3-kazoo python3-pika
  /usr/bin/python3 interop/python/pycounter.py        (HIVE_* as for Go services)
"""
import json, os, random, re, secrets, signal, socket, sys, threading, time
import urllib.error, urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import kazoo.client, kazoo.exceptions, pika
from kazoo.protocol.states import KazooState

SERVICE = "pycounter"
NS = os.environ.get("HIVE_NAMESPACE", "hive")
ZOOKEEPER = os.environ.get("HIVE_ZOOKEEPER", "127.0.0.1:2181")
# A cluster's nodes, comma-separated, as hive takes them.
AMQP_URLS = [u.strip() for u in os.environ.get("HIVE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/").split(",")]
LISTEN = os.environ.get("HIVE_LISTEN", "127.0.0.1:0")
ATTEMPTS = int(os.environ.get("HIVE_EVENT_ATTEMPTS", "8"))
MAX_BODY = 1 << 20  # the limit on request bodies and on event messages
INSTANCE = f"{SERVICE}-{secrets.token_hex(4)}"
DICTIONARY_RANGE = os.environ.get("DICTIONARY_RANGE", "")  # the versions of dictionary add calls; "": any


def log(*words):
    print(f"{SERVICE}:", *words, file=sys.stderr, flush=True)


def now():
    """The time as the protocol wants it: RFC 3339 with a zone. A naive time
    ("2026-12-02T10:00:00") would make Go skip the record or the event."""
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def zoned(t):
    """Whether t is a time of the protocol: RFC 3339, with a zone."""
    return datetime.fromisoformat(t).tzinfo is not None


def new_id():
    return secrets.token_hex(8)  # 16 hex digits, like hive's trace and event ids


def seconds(duration):
    """Parses a Go duration such as "1.5s", "300ms" or "1m2.5s" (Hive-Timeout)."""
    units = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    sign, digits = (-1, duration[1:]) if duration.startswith("-") else (1, duration.lstrip("+"))
    if digits == "0":
        return 0.0
    parts = re.findall(r"([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)", digits)
    if not parts or "".join(n + u for n, u in parts) != digits:
        raise ValueError(duration)
    return sign * sum(float(n) * units[u] for n, u in parts)


def continue_trace(trace):
    """Keeps a trace id that the protocol allows; anything else starts a new trace."""
    return trace if trace and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", trace) else new_id()


class HiveError(Exception):
    """A failure with a hive error code: it crosses the wire as an envelope."""
    STATUS = {"bad_request": 400, "not_found": 404, "conflict": 409,
              "unavailable": 503, "timeout": 504, "internal": 500}

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message

    def envelope(self):
        return self.STATUS.get(self.code, 500), {"error": {"code": self.code, "message": self.message}}


class Work:
    """What a call or an event runs in: its trace id and its deadline."""

    def __init__(self, trace, timeout=5.0):
        self.trace, self.deadline = trace, time.monotonic() + timeout

    def left(self):
        return self.deadline - time.monotonic()


class Counter:
    """The words counted, and the numbers status reports, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.words = {}
        self.stats = dict(calls=0, errors=0, in_flight=0, events_handled=0, events_failed=0, events_emitted=0,
                          connections=0)
        self.calls_out = {}  # by the service called: {"calls": n, "errors": m}

    def add(self, word):
        with self.lock:
            self.words[word] = self.words.get(word, 0) + 1
            return self.words[word]

    def bump(self, key, by=1):
        with self.lock:
            self.stats[key] += by

    def called(self, service, seconds, failed):
        with self.lock:
            count = self.calls_out.setdefault(service, {"calls": 0, "errors": 0, "latest": []})
            count["calls"] += 1
            count["errors"] += 1 if failed else 0
            count["latest"] = (count["latest"] + [seconds])[-128:]  # the window of latency_p99_ms

    def calls_out_status(self):
        """calls_out as status says it; call with the lock held."""
        out = {}
        for service, count in self.calls_out.items():
            latest = sorted(count["latest"])
            out[service] = {"calls": count["calls"], "errors": count["errors"],
                            "latency_p99_ms": round(latest[len(latest) * 99 // 100] * 1000, 3)}
        return out


STATE = Counter()
ZK = kazoo.client.KazooClient(hosts=ZOOKEEPER, timeout=4.0)  # the session timeout hive uses
RECORD = {}  # this instance's registry record, written by main
SKIPPED = set()  # the nodes of other instances whose records we cannot use
SESSION_LOST = threading.Event()  # set while our ZooKeeper session (and node) is gone


# --- Versions of a service ------------------------------------------------------------

SEMVER = re.compile(r"v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
                    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")
PARTIAL = re.compile(r"v?(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?")  # 1 or 1.2, in a range


def semver(text):
    """The semver version in text as (major, minor, patch, pre-release
    identifiers), build metadata dropped; None if text is not semver."""
    m = SEMVER.fullmatch(text)
    return m and (int(m[1]), int(m[2]), int(m[3]), tuple(m[4].split(".")) if m[4] else ())


def usable_version(text):
    """Whether a record's version is semver, or a label that does not start
    like a number ("dev", "py-1"); "1.4" and "v2" are mistakes."""
    return not re.match(r"v?[0-9]", text) or semver(text) is not None


def precedence(a, b):
    """-1, 0 or 1 as version a is below, equal to or above b: a pre-release is
    below its release; its identifiers compare one by one, numbers (digits
    only) as numbers and below words, words in ASCII order."""
    if a[:3] != b[:3]:
        return -1 if a[:3] < b[:3] else 1
    if not a[3] or not b[3]:
        return (not a[3]) - (not b[3])
    for x, y in zip(a[3], b[3]):
        if x.isdigit() and y.isdigit():
            if int(x) != int(y):
                return -1 if int(x) < int(y) else 1
        elif x.isdigit() or y.isdigit():
            return -1 if x.isdigit() else 1
        elif x != y:
            return -1 if x < y else 1
    return (len(a[3]) > len(b[3])) - (len(a[3]) < len(b[3]))


def parse_range(text):
    """The comparators of a range such as "^1" or ">=1.2.0 <2.0.0", as pairs
    (operator, version); [] for "", which asks for no version. ValueError if
    a word is no comparator."""
    conds = []
    for word in text.split():
        op, rest = re.fullmatch(r"(>=|<=|>|<|=|\^|~)?(.*)", word).groups()
        v, m = semver(rest), PARTIAL.fullmatch(rest)
        if v is None and m is None:
            raise ValueError(f"version range {json.dumps(text)}: {json.dumps(word)}: not a version: "
                             "use 1.4.0, 1.4 or 1 after ^, ~, >=, >, <=, < or =")
        parts = 3 if v else 1 if m[2] is None else 2  # how many numbers it names
        v = v or (int(m[1]), int(m[2] or 0), 0, ())
        next_major, next_minor = (v[0] + 1, 0, 0, ()), (v[0], v[1] + 1, 0, ())
        if op == "^" or op == "~" and parts == 1:
            conds += [(">=", v), ("<", next_major)]
        elif op == "~":
            conds += [(">=", v), ("<", next_minor)]
        elif op in (None, "=") and parts < 3:  # 1 is any 1.x.x, 1.2 any 1.2.x
            conds += [(">=", v), ("<", next_major if parts == 1 else next_minor)]
        else:
            conds.append((op or "=", v))
    return conds


def in_range(conds, version):
    """Whether a record of version can serve a caller that asks for the
    range conds: any record for [], else only a semver version in the range.
    A pre-release only for a range that names one of the same x.y.z."""
    if not conds:
        return True
    v = semver(version)
    if v is None or v[3] and not any(c[3] and c[:3] == v[:3] for _, c in conds):
        return False
    holds = {">=": lambda d: d >= 0, ">": lambda d: d > 0, "<=": lambda d: d <= 0, "<": lambda d: d < 0,
             "=": lambda d: d == 0}
    return all(holds[op](precedence(v, c)) for op, c in conds)


def versions_running(records):
    """The versions of records, each with how many run it, as hive says them."""
    count = {}
    for record in records:
        v = record.get("version") or "no version"
        count[v] = count.get(v, 0) + 1
    return ", ".join(f"{v} ({count[v]})" for v in sorted(count))


# --- The registry ----------------------------------------------------------------

def register():
    """Creates our ephemeral node, replacing one of an earlier session."""
    path = f"/{NS}/services/{SERVICE}/{INSTANCE}"
    if ZK.exists(path):
        ZK.delete(path)  # delete and create, so that watchers see a change
    ZK.create(path, json.dumps(RECORD).encode(), ephemeral=True, makepath=True)


def on_zookeeper(state):
    """A lost (expired) session took our node with it: register again once
    a new session starts. kazoo calls this on its own thread, where no
    ZooKeeper call may block, so the work goes to another."""
    if state == KazooState.LOST:
        SESSION_LOST.set()
    elif state == KazooState.CONNECTED and SESSION_LOST.is_set():
        SESSION_LOST.clear()
        ZK.handler.spawn(register)


def instances(service):
    """The usable records of service's instances, in random order. Anyone
    can write into ZooKeeper: a record that is not usable is skipped."""
    path, usable = f"/{NS}/services/{service}", []
    for child in ZK.get_children(path) if ZK.exists(path) else []:
        try:
            record = json.loads(ZK.get(f"{path}/{child}")[0])
            if not (record["service"] == service and record["id"] == child and zoned(record["started"])
                    and re.fullmatch(r"[^/?#]+:\d+", record["endpoint"])
                    and usable_version(record.get("version", ""))):
                raise ValueError("not a record a caller can use")
            usable.append(record)
        except (ValueError, KeyError, TypeError, kazoo.exceptions.NoNodeError):
            if child not in SKIPPED:  # say so once, not on every call
                SKIPPED.add(child)
                log("skip a record that is not usable:", path, child)
    random.shuffle(usable)
    return usable


# --- Calling a hive service --------------------------------------------------------

def call(method, request, work, versions=""):
    """Calls "service.method" on one of its instances, in work's trace and
    within its deadline; another instance only when nothing was done. With
    versions, a range such as "^1", only an instance of a version in it.
    status counts it, by the service called (calls_out)."""
    service, start = method.split(".", 1)[0], time.monotonic()
    try:
        answer = call_instances(method, request, work, versions)
    except HiveError:
        STATE.called(service, time.monotonic() - start, failed=True)
        raise
    STATE.called(service, time.monotonic() - start, failed=False)
    return answer


def call_instances(method, request, work, versions):
    service, name = method.split(".", 1)
    failure = HiveError("unavailable", f"{method}: no instance of {service} is registered")
    records, conds = instances(service), parse_range(versions)
    matching = [r for r in records if in_range(conds, r.get("version", ""))]
    if records and not matching:  # say what runs: the caller may ask for a range that nothing runs yet
        raise HiveError("unavailable", f"{method}: no instance of service {service} runs a version in {versions.strip()}: "
                                       f"{len(records)} run, of version {versions_running(records)}")
    for record in matching:
        if work.left() <= 0:
            raise HiveError("timeout", f"{method}: no time left to call it")
        req = urllib.request.Request(f"http://{record['endpoint']}/rpc/{name}", method="POST",
                                     data=json.dumps(request).encode(), headers={
            "Content-Type": "application/json", "Hive-Service": service,
            "Hive-Trace-Id": work.trace, "Hive-Timeout": f"{int(work.left() * 1000)}ms"})
        try:
            with urllib.request.urlopen(req, timeout=max(work.left(), 0.001)) as res:
                if res.headers.get("Hive-Service", service) != service:
                    raise HiveError("unavailable", f"{record['endpoint']} is no longer {service}")
                return json.load(res)
        except urllib.error.HTTPError as err:  # not 200: the error envelope
            if err.headers.get("Hive-Service", service) != service:  # whatever it says
                failure = HiveError("unavailable", f"{record['endpoint']} is no longer {service}")
                continue
            try:
                e = json.load(err)["error"]
                failure = HiveError(e["code"], f"{method}: {e['message']}")
            except (ValueError, KeyError, TypeError):
                failure = HiveError("internal", f"{method}: HTTP {err.code} without an error envelope")
        except HiveError as e:
            failure = e
        except OSError as err:  # no answer at all
            cause = getattr(err, "reason", err)
            if isinstance(cause, TimeoutError):
                raise HiveError("timeout", f"{method}: no answer before the deadline")
            failure = HiveError("unavailable", f"{method}: {record['endpoint']}: {cause}")
            if not isinstance(cause, ConnectionRefusedError):
                break  # the request may have arrived and done its work: try no other
        if failure.code != "unavailable":  # only unavailable promises that nothing was done
            break
    raise failure


# --- Serving RPCs ------------------------------------------------------------------

def add(request, work):
    """pycounter.add: counts a word that the Go dictionary knows."""
    word = request.get("word") if isinstance(request, dict) else None
    if not isinstance(word, str) or not word:
        raise HiveError("bad_request", 'the request needs a word, e.g. {"word": "bee"}')
    if not call("dictionary.check", {"word": word}, work, DICTIONARY_RANGE).get("known"):
        raise HiveError("not_found", f"the dictionary does not know {json.dumps(word)}")
    return {"word": word, "count": STATE.add(word)}


def ping(request, work):
    return {"service": SERVICE, "instance": INSTANCE}


def status(request, work):
    with STATE.lock:
        stats = dict(STATE.stats, in_flight=STATE.stats["in_flight"] - 1)  # not counting this call
        if STATE.calls_out:  # omitted while it has called nobody
            stats["calls_out"] = STATE.calls_out_status()
    return {"service": SERVICE, "instance": INSTANCE, "version": RECORD["version"], "endpoint": RECORD["endpoint"],
            "started": RECORD["started"], **stats, "latency_p50_ms": 0.0, "latency_p99_ms": 0.0,
            "goroutines": threading.active_count()}  # Python has threads where Go has goroutines


def inspect(request, work):
    builtin = {"idempotent": True, "builtin": True, "request_type": "", "request": None,
               "response_type": "", "response": None}
    return {"service": SERVICE,
            "methods": [{"name": "add", "request_type": "AddRequest", "request": {"word": ""},
                         "response_type": "AddReply", "response": {"word": "", "count": 0}}]
            + [dict(builtin, name=name) for name in ("ping", "status", "inspect")],
            "events": [{"pattern": "word.seen", "body_type": "Seen", "body": {"word": ""}}]}


METHODS = {"add": add, "ping": ping, "status": status, "inspect": inspect}  # own ones first, then built-ins


class RPC(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Go's client expects

    def setup(self):  # one handler per connection: status counts them
        super().setup()
        STATE.bump("connections")

    def finish(self):
        STATE.bump("connections", -1)
        super().finish()

    def answer(self):
        trace = continue_trace(self.headers.get("Hive-Trace-Id"))
        STATE.bump("in_flight")
        try:
            status, body = 200, self.run(trace)
        except HiveError as e:
            status, body = e.envelope()
        except Exception as e:  # a bug: the caller learns that it broke, the log says how
            log("method failed:", repr(e))
            status, body = HiveError("internal", f"an unexpected failure in {INSTANCE}: see its log").envelope()
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
        # The checks in hive's order: the service meant, the timeout, the
        # path, the HTTP method, the RPC method, and last the body.
        wanted = self.headers.get("Hive-Service")
        if wanted and wanted != SERVICE:
            raise HiveError("unavailable", f"this is an instance of {SERVICE}, not of {json.dumps(wanted)}")
        timeout = 5.0  # without Hive-Timeout: hive's default CallTimeout
        if self.headers.get("Hive-Timeout"):
            try:
                timeout = min(seconds(self.headers["Hive-Timeout"]), 60.0)  # one minute at most
            except ValueError:
                raise HiveError("bad_request", "the Hive-Timeout header must be a duration, such as 1.5s or 300ms")
            if timeout <= 0:
                raise HiveError("timeout", "the caller's deadline passed before the call arrived")
        if not self.path.startswith("/rpc/"):
            raise HiveError("not_found", f"there is nothing at {self.path}: methods are under /rpc/")
        if self.command not in ("POST", "GET"):
            raise HiveError("bad_request", f"use POST (or GET) to call a method, not {self.command}")
        name = self.path[len("/rpc/"):]
        if name not in METHODS:
            raise HiveError("not_found", f"service {SERVICE} has no method {json.dumps(name)}; it has {', '.join(METHODS)}")
        size = int(self.headers.get("Content-Length") or 0)
        if size > MAX_BODY:
            self.close_connection = True  # the body stays unread
            raise HiveError("bad_request", f"the request body is larger than the limit of {MAX_BODY} bytes")
        raw = self.rfile.read(size)
        try:
            request = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            raise HiveError("bad_request", f"the request is not valid JSON: {e}")
        return METHODS[name](request, Work(trace, timeout))

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = answer

    def log_message(self, *args):  # quiet: status has the numbers
        pass


# --- Events ------------------------------------------------------------------------

def delays(first, most):
    """The waits after try 1 .. ATTEMPTS-1: first, doubled each time, capped at most."""
    return [min(first * 2 ** (a - 1), most) for a in range(1, ATTEMPTS)]


def tier(seconds):
    """The delay tier's queue, named with Go's time.Duration.String: 50ms, 1.5s, 1m0s."""
    ms = round(seconds * 1000)
    if ms < 1000:
        return f"{NS}.retry.{ms}ms"
    m, rest = divmod(ms, 60000)
    return f"{NS}.retry.{m}m{rest / 1000:g}s" if m else f"{NS}.retry.{rest / 1000:g}s"


def declare(channel, pattern, waits):
    """Declares a subscription's queues, and the delay tiers, exactly as hive
    does, and binds the work queue. Other flags or arguments, and RabbitMQ
    refuses."""
    work = f"{NS}.{SERVICE}.{pattern}"  # hive names a subscription after its pattern
    channel.exchange_declare(NS, "topic", durable=True)
    channel.exchange_declare(NS + ".broadcast", "topic", durable=True)
    channel.exchange_declare(NS + ".wait", "headers", durable=True)
    for wait in sorted(set(waits)):
        channel.queue_declare(tier(wait), durable=True, arguments={
            "x-message-ttl": round(wait * 1000),  # then the broker sends it on by its routing key: the work queue
            "x-dead-letter-exchange": ""})
        channel.queue_bind(tier(wait), NS + ".wait", arguments={"x-match": "all", "hive-wait": tier(wait)})
    channel.queue_declare(work, durable=True)
    channel.queue_declare(work + ".dead", durable=True, arguments={"x-max-length": 10000})
    channel.queue_bind(work, NS, routing_key=pattern)
    return work


def publish(channel, exchange, key, body, properties, mandatory=True):
    """Publishes on a confirm channel: it returns once the broker has the
    message. pika raises UnroutableError when the broker returned a mandatory
    one (no queue takes it), NackError when the broker lost it."""
    channel.basic_publish(exchange, key, body, properties, mandatory=mandatory)


def emit(channel, kind, body, work):
    """Publishes the event persistent and mandatory to the exchange of the
    services, and a transient copy to the exchange of taps and broadcasts."""
    event = {"id": new_id(), "type": kind, "source": INSTANCE, "trace_id": work.trace, "time": now(), "body": body}
    data = json.dumps(event).encode()
    def props(mode):
        return pika.BasicProperties(content_type="application/json", message_id=event["id"], type=kind,
                                    timestamp=int(time.time()), delivery_mode=mode)
    try:
        publish(channel, NS, kind, data, props(2))
    finally:
        publish(channel, NS + ".broadcast", kind, data, props(1), mandatory=False)
    STATE.bump("events_emitted")


def matches(pattern, kind):
    """Whether an event type matches a pattern, by RabbitMQ's topic rules:
    "*" is one word, "#" zero or more."""
    def match(p, w):
        if not p:
            return not w
        if p[0] == "#":
            return any(match(p[1:], w[i:]) for i in range(len(w) + 1))
        return bool(w) and p[0] in ("*", w[0]) and match(p[1:], w[1:])
    return match(pattern.split("."), kind.split("."))


def decode(body, method, pattern):
    """The event in a message, or ValueError if it is none: then no retry can help."""
    if len(body) > MAX_BODY:
        raise ValueError(f"too big: {len(body)} bytes, over the limit of {MAX_BODY}")
    event = json.loads(body)
    if not isinstance(event, dict) or not all(isinstance(event.get(k), str) for k in ("id", "type", "source", "time")):
        raise ValueError("not an event: id, type, source and time must be strings")
    if not event["id"] or not event["type"] or "body" not in event or not zoned(event["time"]):
        raise ValueError("not an event: an empty id or type, no body, or a time without a zone")
    # The type is the one it was routed by: its routing key, if it came
    # from the exchange (a retry comes from "", keyed by the queue's name).
    if method.exchange == NS and method.routing_key != event["type"] or not matches(pattern, event["type"]):
        raise ValueError(f"not an event: its type {event['type']} is not the type it was routed by")
    return event


def on_word_seen(event, channel):
    """Handles word.seen: counts the word and tells the hive, in the same trace."""
    word = event["body"]["word"]
    if word == "boom":
        raise RuntimeError("cannot count boom")  # on purpose: the way to .dead
    try:
        emit(channel, "word.counted", {"word": word, "count": STATE.add(word)}, Work(continue_trace(event.get("trace_id"))))
    except pika.exceptions.UnroutableError:
        log("nobody subscribes to word.counted yet")  # a count is news, not work: nobody lost anything


def consume(channel, work, waits, pattern, handler):
    def settle(ch, method, props, body, exchange, key, **set):
        """Fails a delivery as hive does: a copy with the headers set goes to a
        delay tier or the dead-letter queue, and only once the broker has it is
        the original acked. If we die in between, the event comes twice, but it
        is never lost. (If the queue is gone, publish raises, we exit, and the
        broker delivers the unacked original again.)"""
        headers = {k: v for k, v in (props.headers or {}).items()
                   if not k.startswith("x-") and k not in ("hive-reason", "hive-wait")}
        headers.update(set)
        publish(ch, exchange, key, body, pika.BasicProperties(content_type=props.content_type, delivery_mode=2,
                message_id=props.message_id, type=props.type, timestamp=props.timestamp, headers=headers))
        ch.basic_ack(method.delivery_tag)

    def deliver(ch, method, props, body):
        try:
            event = decode(body, method, pattern)
        except ValueError as e:
            reason = str(e) if str(e).startswith(("too big", "not an event")) else f"not an event: {e}"
            return settle(ch, method, props, body, "", work + ".dead", **{"hive-reason": reason})
        attempt = (props.headers or {}).get("hive-attempt", 1)  # anyone may publish: check it
        attempt = min(max(attempt, 1), ATTEMPTS) if type(attempt) is int else 1
        try:
            handler(event, ch)
        except Exception as e:
            STATE.bump("events_failed")
            log("handler failed, attempt", attempt, "of", ATTEMPTS, ":", e)
            if attempt < ATTEMPTS:  # wait in the tier of this attempt; its routing key brings it back
                return settle(ch, method, props, body, NS + ".wait", work,
                              **{"hive-attempt": attempt + 1, "hive-wait": tier(waits[attempt - 1])})
            return settle(ch, method, props, body, "", work + ".dead", **{"hive-reason": f"failed {attempt} times: {e}"})
        STATE.bump("events_handled")
        ch.basic_ack(method.delivery_tag)

    channel.basic_qos(prefetch_count=1)  # one event at a time: this consumer runs one handler
    channel.basic_consume(work, deliver)


# --- Start and stop ----------------------------------------------------------------

def main():
    try:
        parse_range(DICTIONARY_RANGE)
    except ValueError as e:
        sys.exit(f"{SERVICE}: DICTIONARY_RANGE: {e}")
    waits = delays(seconds(os.environ.get("HIVE_EVENT_RETRY_DELAY", "1s")),
                   seconds(os.environ.get("HIVE_EVENT_MAX_RETRY_DELAY", "30s")))
    ZK.add_listener(on_zookeeper)
    ZK.start(timeout=10)
    host, port = LISTEN.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), RPC)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    # Given several, pika tries them in turn, in order, until one answers.
    connection = pika.BlockingConnection([pika.URLParameters(u) for u in AMQP_URLS])
    channel = connection.channel()
    channel.confirm_delivery()  # every publish on it waits for the broker's confirm
    consume(channel, declare(channel, "word.seen", waits), waits, "word.seen", on_word_seen)

    # Register last, once everything serves: callers come at once.
    RECORD.update(id=INSTANCE, service=SERVICE, endpoint=f"{host}:{server.server_address[1]}",
                  version="py-1", host=socket.gethostname(), pid=os.getpid(), started=now())
    register()
    log("serving", RECORD["endpoint"], "in namespace", NS)

    signal.signal(signal.SIGTERM, lambda *_: connection.add_callback_threadsafe(channel.stop_consuming))
    try:
        channel.start_consuming()
    except KeyboardInterrupt:
        pass
    ZK.stop()  # leave first: the session ends and ZooKeeper deletes our node
    server.shutdown()
    connection.close()
    log("stopped")


if __name__ == "__main__":
    main()
