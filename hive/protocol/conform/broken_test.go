package conform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/protocol/conform"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

// wantBroken asserts that report broke the rule that rule names (a part of
// its text), and says which rules it broke; for rule "", that it broke
// none: the test's peer keeps every rule unless it is told to break one.
func wantBroken(t *testing.T, report conform.Report, rule string) {
	t.Helper()
	if rule == "" {
		if !report.OK() {
			t.Fatalf("the peer of the test breaks the protocol by itself:\n%s", report)
		}
		return
	}
	var broken []string
	for _, r := range report.Failed() {
		broken = append(broken, r.Rule)
		if strings.Contains(r.Rule, rule) {
			return
		}
	}
	t.Errorf("hive conform did not see the broken rule %q; it saw %q:\n%s", rule, broken, report)
}

// The stand-in: a peer that answers calls through a Go service, but breaks
// one rule of RPC on the way. It is an instance of its own in the
// registry, whose record points at the proxy in front of the service.
const standIn = "kitchen-broken"

// A break changes a request on its way in, or an answer on its way out;
// answer, if it returns true, has answered the request itself.
type rpcBreak struct {
	request func(r *http.Request)
	answer  func(w http.ResponseWriter, r *http.Request) bool
	reply   func(r *http.Response, body []byte) []byte
}

// startStandIn puts a proxy that applies b in front of svc and registers
// it as the instance standIn of kitchen, with record (PROTOCOL.md's
// record of it, changed by edit if edit is not nil).
func startStandIn(t *testing.T, n *hivetest.Network, svc *hive.Service, b rpcBreak, ephemeral bool, edit func(map[string]any)) {
	backend, _ := url.Parse("http://" + svc.Endpoint())
	proxy := httputil.NewSingleHostReverseProxy(backend)
	director := proxy.Director
	proxy.Director = func(r *http.Request) {
		director(r)
		if b.request != nil {
			b.request(r)
		}
	}
	proxy.ModifyResponse = func(res *http.Response) error {
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		// The stand-in is an instance of its own: ping and status say so.
		body = bytes.ReplaceAll(body, []byte(`"`+svc.ID()+`"`), []byte(`"`+standIn+`"`))
		if b.reply != nil {
			body = b.reply(res, body)
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		res.ContentLength = int64(len(body))
		res.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.answer != nil && b.answer(w, r) {
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	record := map[string]any{"id": standIn, "service": "kitchen", "endpoint": ln.Addr().String(),
		"started": time.Now().UTC().Format(time.RFC3339Nano), "pid": 4711}
	if edit != nil {
		edit(record)
	}
	data, _ := json.Marshal(record)
	conn, err := zookeeper.Connect(t.Context(), brokertest.ZooKeeper(t), zookeeper.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	var flags int32
	if ephemeral {
		flags = zk.FlagEphemeral
	}
	if _, err := conn.Create("/"+n.Namespace+"/services/kitchen/"+standIn, data, flags, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
}

// envelope answers with the error envelope of code, as a peer would.
func envelope(w http.ResponseWriter, status int, code string) bool {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Hive-Service", "kitchen")
	w.Header().Set("Hive-Trace-Id", "t-1")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error": {"code": %q, "message": "broken on purpose"}}`, code)
	return true
}

// A peer that breaks one rule of the registry or of RPC fails hive
// conform, which names the rule.
func TestBrokenPeerFailsConform(t *testing.T) {
	n, svc := startKitchen(t)
	// Each case is a stand-in of its own, one after the other, under the
	// same service: conform checks the stand-in's endpoint.
	for _, tc := range []struct {
		name      string
		b         rpcBreak
		ephemeral bool
		record    func(map[string]any)
		broken    string // a part of the rule conform must see broken
	}{
		{name: "the stand-in keeps every rule", ephemeral: true},
		{name: "a persistent node", broken: "is ephemeral"},
		{name: "an http:// endpoint", ephemeral: true, broken: "is one a caller can use",
			record: func(r map[string]any) { r["endpoint"] = "http://" + r["endpoint"].(string) }},
		{name: "a record whose id is not its node's name", ephemeral: true, broken: "is one a caller can use",
			record: func(r map[string]any) { r["id"] = "kitchen-elsewhere" }},
		{name: "a time without offset", ephemeral: true, broken: "matches registry-record.schema.json",
			record: func(r map[string]any) { r["started"] = "2026-12-01T19:30:00.123456" }},
		{name: "a version that starts like a number but is not semver", ephemeral: true, broken: "version is semver",
			record: func(r map[string]any) { r["version"] = "1.4" }},
		{name: "a version v2", ephemeral: true, broken: "version is semver",
			record: func(r map[string]any) { r["version"] = "v2" }},
		{name: "a label for a version", ephemeral: true,
			record: func(r map[string]any) { r["version"] = "dev" }},
		{name: "no Hive-Service on answers", ephemeral: true, broken: "ping answers 200, with the headers of every answer",
			b: rpcBreak{reply: func(r *http.Response, body []byte) []byte { r.Header.Del("Hive-Service"); return body }}},
		{name: "text/plain answers", ephemeral: true, broken: "an unknown method is not_found",
			b: rpcBreak{reply: func(r *http.Response, body []byte) []byte { r.Header.Set("Content-Type", "text/plain"); return body }}},
		{name: "an unknown method answered 200", ephemeral: true, broken: "an unknown method is not_found",
			b: rpcBreak{answer: func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/rpc/conform-no-such-method" {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Hive-Service", "kitchen")
				w.Header().Set("Hive-Trace-Id", "t-1")
				w.Write([]byte(`{}`))
				return true
			}}},
		{name: "an unknown method answered without envelope", ephemeral: true, broken: "an unknown method is not_found",
			b: rpcBreak{answer: func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/rpc/conform-no-such-method" {
					return false
				}
				http.NotFound(w, r)
				return true
			}}},
		{name: "Hive-Service not looked at", ephemeral: true, broken: "a call meant for another service is unavailable",
			b: rpcBreak{request: func(r *http.Request) { r.Header.Del("Hive-Service") }}},
		{name: "Hive-Timeout not looked at", ephemeral: true, broken: "a zero Hive-Timeout is timeout",
			b: rpcBreak{request: func(r *http.Request) { r.Header.Del("Hive-Timeout") }}},
		{name: "Hive-Timeout in us not read", ephemeral: true, broken: "Hive-Timeout in ASCII microseconds (us) is read",
			b: rpcBreak{answer: func(w http.ResponseWriter, r *http.Request) bool {
				return strings.HasSuffix(r.Header.Get("Hive-Timeout"), "us") && envelope(w, 400, "bad_request")
			}}},
		{name: "a malformed Hive-Timeout is a timeout", ephemeral: true, broken: "a malformed Hive-Timeout is bad_request",
			b: rpcBreak{answer: func(w http.ResponseWriter, r *http.Request) bool {
				return r.Header.Get("Hive-Timeout") == "soon" && envelope(w, 504, "timeout")
			}}},
		{name: "no body limit", ephemeral: true, broken: "a body over 1 MiB is bad_request",
			b: rpcBreak{request: func(r *http.Request) {
				if r.ContentLength > 1<<20 {
					r.Body, r.ContentLength = http.NoBody, 0
				}
			}}},
		{name: "PUT taken for POST", ephemeral: true, broken: "an HTTP method other than POST or GET is bad_request",
			b: rpcBreak{request: func(r *http.Request) { r.Method = http.MethodPost }}},
		{name: "GET refused", ephemeral: true, broken: "GET calls a method too",
			b: rpcBreak{answer: func(w http.ResponseWriter, r *http.Request) bool {
				return r.Method == http.MethodGet && envelope(w, 400, "bad_request")
			}}},
		{name: "the caller's trace dropped", ephemeral: true, broken: "an answer carries the caller's trace id",
			b: rpcBreak{request: func(r *http.Request) { r.Header.Del("Hive-Trace-Id") }}},
		{name: "a bad trace id kept", ephemeral: true, broken: "an invalid trace id starts a new trace",
			b: rpcBreak{reply: func(r *http.Response, body []byte) []byte {
				if tr := r.Request.Header.Get("X-Conform-Sent-Trace"); tr != "" {
					r.Header.Set("Hive-Trace-Id", tr)
				}
				return body
			}, request: func(r *http.Request) {
				if tr := r.Header.Get("Hive-Trace-Id"); tr == "not a trace id!" {
					r.Header.Set("X-Conform-Sent-Trace", tr)
				}
			}}},
		{name: "ping without instance", ephemeral: true, broken: "ping says which service and instance answered",
			b: rpcBreak{reply: func(r *http.Response, body []byte) []byte {
				return bytes.Replace(body, []byte(`"instance"`), []byte(`"name"`), 1)
			}}},
		{name: "status without calls", ephemeral: true, broken: "status has the documented fields",
			b: rpcBreak{reply: func(r *http.Response, body []byte) []byte {
				return bytes.Replace(body, []byte(`"calls"`), []byte(`"rpcs"`), 1)
			}}},
		{name: "status with calls_out a list", ephemeral: true, broken: "status's calls_out, if there, counts calls and errors by service",
			b: rpcBreak{reply: func(r *http.Response, body []byte) []byte {
				return bytes.Replace(body, []byte(`"goroutines"`), []byte(`"calls_out":[{"calls":1}],"goroutines"`), 1)
			}}},
		{name: "inspect with null lists", ephemeral: true, broken: "inspect lists methods",
			b: rpcBreak{reply: func(r *http.Response, body []byte) []byte {
				if r.Request.URL.Path != "/rpc/inspect" {
					return body
				}
				var v map[string]any
				json.Unmarshal(body, &v)
				v["events"] = nil
				out, _ := json.Marshal(v)
				return out
			}}},
		{name: "bad JSON answered internal", ephemeral: true, broken: "a body that is not JSON is bad_request",
			b: rpcBreak{answer: func(w http.ResponseWriter, r *http.Request) bool {
				return r.URL.Path == "/rpc/cook" && envelope(w, 500, "internal")
			}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			startStandIn(t, n, svc, tc.b, tc.ephemeral, tc.record)
			t.Cleanup(func() { deleteStandIn(t, n) })
			target := target(t, n, "kitchen")
			target.Instance, target.AMQPURL = standIn, "" // the events are the service's, checked elsewhere
			wantBroken(t, conform.Check(t.Context(), target), tc.broken)
		})
	}
}

func deleteStandIn(t *testing.T, n *hivetest.Network) {
	conn, err := zookeeper.Connect(context.Background(), brokertest.ZooKeeper(t), zookeeper.Options{})
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	if err := conn.Delete("/"+n.Namespace+"/services/kitchen/"+standIn, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		t.Error(err)
	}
}

// An event consumer that breaks one rule of consuming fails hive conform.
// The consumer is written here from PROTOCOL.md, with a switch for each
// rule it can break; the service's RPC side is a Go service whose own
// subscription has a queue of another name, so that conform meets the
// consumer below on the documented queues.
func TestBrokenConsumerFailsConform(t *testing.T) {
	for _, tc := range []struct {
		name   string
		breaks string
		broken string
	}{
		{name: "the consumer keeps every rule"},
		{name: "non-events acked", breaks: "ack non-events", broken: "a body that is not JSON is dead-lettered"},
		{name: "an envelope without body taken", breaks: "take no body", broken: "an envelope without body is dead-lettered"},
		{name: "the queue trusted for the type", breaks: "trust the queue", broken: "an envelope whose type is not its routing key"},
		{name: "no retries", breaks: "no retries", broken: "is retried, then dead-lettered"},
		{name: "x- headers kept", breaks: "keep x- headers", broken: "is retried, then dead-lettered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := brokertest.NewNetwork(t)
			svc := hive.New("larder")
			hive.On(svc, "stock.added", func(ctx context.Context, e hive.Event[orderPlaced]) error { return nil }, hive.Queue("shadow"))
			n.Start(svc)
			consume(t, n.Namespace, "larder", "stock.added", tc.breaks)

			target := target(t, n, "larder")
			target.FailType = "stock.added"
			if tc.broken != "" {
				// A dead letter that is not coming is waited for in vain:
				// the right ones come within a second.
				target.Wait = 5 * time.Second
			}
			wantBroken(t, conform.Check(t.Context(), target), tc.broken)
		})
	}
}

// consume runs a consumer of service's subscription to pattern, as
// PROTOCOL.md describes it, breaking the rule breaks names ("" for none).
// It fails every event whose body has dish 13.
func consume(t *testing.T, namespace, service, pattern, breaks string) {
	conn, err := amqp.Dial(brokertest.RabbitMQ(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	work := namespace + "." + service + "." + pattern
	declare := func(name string, args amqp.Table) {
		if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ch, err := conn.Channel()
			if err == nil {
				ch.QueueDelete(name, false, false, false)
				ch.Close()
			}
		})
	}
	// One delay tier, of 50ms, shared with the namespace's hive bus.
	wait, tier := namespace+".wait", namespace+".retry.50ms"
	if err := ch.ExchangeDeclare(wait, "headers", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(tier, true, false, false, false, amqp.Table{"x-message-ttl": int64(50), "x-dead-letter-exchange": ""}); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(tier, "", wait, false, amqp.Table{"x-match": "all", "hive-wait": tier}); err != nil {
		t.Fatal(err)
	}
	declare(work, nil)
	declare(work+".dead", amqp.Table{"x-max-length": int64(10000)})
	if err := ch.QueueBind(work, pattern, namespace, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(work, "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	// copyTo publishes a copy of d through exchange to key with the
	// headers set, confirmed, then acks d.
	copyTo := func(d amqp.Delivery, exchange, key string, set amqp.Table) {
		headers := amqp.Table{}
		for k, v := range d.Headers {
			if !strings.HasPrefix(k, "x-") && k != "hive-wait" || breaks == "keep x- headers" {
				headers[k] = v
			}
		}
		for k, v := range set {
			headers[k] = v
		}
		conf, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), exchange, key, true, false, amqp.Publishing{
			ContentType: d.ContentType, DeliveryMode: amqp.Persistent, MessageId: d.MessageId, Type: d.Type,
			Timestamp: d.Timestamp, Headers: headers, Body: d.Body,
		})
		if err == nil {
			conf.Wait()
		}
		d.Ack(false)
	}
	go func() {
		for d := range deliveries {
			e, err := events.Decode(d.Body)
			if breaks == "take no body" { // as hive did before PROTOCOL.md's Changes
				e = events.Event{}
				if err = json.Unmarshal(d.Body, &e); err == nil && e.Type == "" {
					err = errors.New("no type")
				}
			}
			if err == nil && breaks != "trust the queue" && (d.Exchange == namespace && d.RoutingKey != e.Type || !events.Match(pattern, e.Type)) {
				err = events.ErrWrongType
			}
			if err != nil {
				if breaks == "ack non-events" {
					d.Ack(false)
				} else {
					copyTo(d, "", work+".dead", amqp.Table{"hive-reason": "not an event: " + err.Error()})
				}
				continue
			}
			var body orderPlaced
			json.Unmarshal(e.Body, &body)
			if body.Dish != 13 {
				d.Ack(false)
				continue
			}
			attempt := int32(1)
			if a, ok := d.Headers["hive-attempt"].(int32); ok {
				attempt = a
			}
			if attempt < 3 && breaks != "no retries" {
				copyTo(d, wait, work, amqp.Table{"hive-attempt": attempt + 1, "hive-wait": tier})
				continue
			}
			copyTo(d, "", work+".dead", amqp.Table{"hive-reason": fmt.Sprintf("failed %d times: dish 13 always burns", attempt)})
		}
	}()
}
