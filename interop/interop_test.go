//go:build unix

// The peer runs on Debian's python3, and the test freezes it with SIGSTOP:
// Unix only.

package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/protocol"
	"github.com/hive-workshop/microservices-go/hive/registry"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
	"github.com/hive-workshop/microservices-go/internal/broker/brokerfake"
)

// python is Debian's interpreter, which the Debian packages python3-kazoo
// and python3-pika install into (a pyenv python3 on PATH would lack them).
const python = "/usr/bin/python3"

// wait is how long a condition may take on a loaded machine.
const wait = 30 * time.Second

func TestPythonPeerJoinsTheHive(t *testing.T) {
	requirePython(t)
	n := brokertest.NewNetwork(t)

	// The Go side: a dictionary the peer calls, and a service that
	// listens for the peer's events.
	var mu sync.Mutex
	checkedIn := map[string]string{} // word -> the trace id dictionary.check ran in
	dict := hive.New("dictionary")
	dict.SetVersion("1.4.0") // the peer asks for ^1 (DICTIONARY_RANGE)
	hive.Handle(dict, "check", func(ctx context.Context, req checkRequest) (checkReply, error) {
		mu.Lock()
		checkedIn[req.Word] = hive.TraceID(ctx)
		mu.Unlock()
		return checkReply{Known: req.Word != "qwzx"}, nil
	})
	counted := make(chan hive.Event[countedBody], 10)
	listener := hive.New("listener")
	hive.On(listener, "word.counted", func(ctx context.Context, e hive.Event[countedBody]) error {
		counted <- e
		return nil
	})
	n.Start(dict)
	n.Start(listener)

	peer := startPeer(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	defer cancel()
	waitFor(t, "the peer to register a record that hive can read", func() bool {
		list, err := n.Registry.Instances(ctx, "pycounter")
		return err == nil && len(list) == 1
	})

	t.Run("its record is one hive can use", func(t *testing.T) {
		list, err := n.Registry.Instances(ctx, "pycounter")
		if err != nil || len(list) != 1 {
			t.Fatalf("instances of pycounter: %v, %v", list, err)
		}
		rec := list[0]
		if err := rec.Validate(); err != nil {
			t.Error(err)
		}
		if rec.Started.IsZero() || time.Since(rec.Started) > time.Hour || rec.PID == 0 {
			t.Errorf("record %+v: want a start time of now and a pid", rec)
		}
	})

	t.Run("the CLI sees it", func(t *testing.T) {
		for _, c := range []struct{ args, want []string }{
			{[]string{"discover"}, []string{"pycounter", "py-1"}},
			{[]string{"inspect", "pycounter"}, []string{"add", "word.seen", "ping, status, inspect"}},
			{[]string{"status"}, []string{"pycounter", "dictionary"}},
		} {
			out := hiveCLI(t, n, c.args...)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("hive %s: no %q in\n%s", strings.Join(c.args, " "), w, out)
				}
			}
			if strings.Contains(out, "unavailable") || strings.Contains(out, "internal") {
				t.Errorf("hive %s: a failure in\n%s", strings.Join(c.args, " "), out)
			}
		}
	})

	t.Run("Go calls it, and it calls Go, in one trace", func(t *testing.T) {
		var reply struct {
			Word  string `json:"word"`
			Count int    `json:"count"`
		}
		ctx := hive.WithTraceID(ctx, "interop-rpc-trace")
		if err := n.Call(ctx, "pycounter.add", map[string]string{"word": "bee"}, &reply); err != nil {
			t.Fatalf("pycounter.add: %v", err)
		}
		if reply.Word != "bee" || reply.Count != 1 {
			t.Errorf("pycounter.add bee = %+v, want bee 1", reply)
		}
		mu.Lock()
		defer mu.Unlock()
		if got := checkedIn["bee"]; got != "interop-rpc-trace" {
			t.Errorf("dictionary.check ran in trace %q, want the caller's, interop-rpc-trace", got)
		}
	})

	t.Run("its status counts its calls to Go", func(t *testing.T) {
		var status hive.Status
		if err := n.Call(ctx, "pycounter.status", nil, &status); err != nil {
			t.Fatalf("pycounter.status: %v", err)
		}
		if got := status.CallsOut["dictionary"]; got.Calls < 1 || got.LatencyP99 <= 0 {
			t.Errorf("pycounter's calls_out = %+v, want its calls to dictionary counted", status.CallsOut)
		}
	})

	t.Run("its failures are typed hive errors", func(t *testing.T) {
		for _, c := range []struct {
			method string
			req    any
			want   error
		}{
			{"pycounter.add", map[string]string{"word": ""}, hive.ErrBadRequest},
			{"pycounter.add", map[string]string{"word": "qwzx"}, hive.ErrNotFound}, // the dictionary says no
			{"pycounter.nope", nil, hive.ErrNotFound},
		} {
			err := n.Call(ctx, c.method, c.req, nil)
			var e *hive.Error
			if !errors.Is(err, c.want) || !errors.As(err, &e) || e.Message == "" {
				t.Errorf("%s %v: got %v, want a %v with a message", c.method, c.req, err, c.want.(*hive.Error).Code)
			}
		}
	})

	t.Run("an event crosses both ways with its trace", func(t *testing.T) {
		ctx := hive.WithTraceID(ctx, "interop-event-trace")
		if err := listener.Emit(ctx, "word.seen", map[string]string{"word": "honey"}); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-counted:
			if e.Body.Word != "honey" || e.TraceID != "interop-event-trace" || !strings.HasPrefix(e.Source, "pycounter-") {
				t.Errorf("word.counted = %+v (trace %q, source %q), want honey from pycounter in interop-event-trace", e.Body, e.TraceID, e.Source)
			}
			if e.Time.IsZero() || time.Since(e.Time) > time.Hour {
				t.Errorf("word.counted was emitted at %v: the peer's time did not survive", e.Time)
			}
		case <-time.After(wait):
			t.Fatal("no word.counted came back from the peer")
		}
	})

	t.Run("what it writes matches PROTOCOL.md's schemas", func(t *testing.T) {
		// The registry record, as the bytes in its znode.
		conn, err := zookeeper.Connect(ctx, brokertest.ZooKeeper(t), zookeeper.Options{Logger: slog.New(slog.NewTextHandler(n.Logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		path := "/" + n.Namespace + "/services/pycounter"
		ids, _, err := conn.Children(path)
		if err != nil || len(ids) != 1 {
			t.Fatalf("children of %s: %v, %v", path, ids, err)
		}
		record, _, err := conn.Get(path + "/" + ids[0])
		if err != nil {
			t.Fatal(err)
		}
		conform(t, "registry-record", record)

		// An error envelope, as the bytes of the answer.
		var rec struct{ Endpoint string }
		json.Unmarshal(record, &rec)
		res, err := http.Post("http://"+rec.Endpoint+"/rpc/nope", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || res.Header.Get("Hive-Service") != "pycounter" ||
			res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Hive-Trace-Id") == "" {
			t.Errorf("answer to an unknown method: %s %v", res.Status, res.Header)
		}
		conform(t, "error", body)

		// An event, as the message on the broker.
		msg := catchEvent(t, n, "word.counted", func() {
			if err := listener.Emit(ctx, "word.seen", map[string]string{"word": "wax"}); err != nil {
				t.Fatal(err)
			}
		})
		var e struct{ ID, Type string }
		json.Unmarshal(msg.Body, &e)
		if msg.ContentType != "application/json" || msg.DeliveryMode != amqp.Persistent || msg.MessageId != e.ID || msg.Type != e.Type {
			t.Errorf("word.counted properties: content type %q, delivery mode %d, message id %q, type %q; want application/json, 2, %q, %q",
				msg.ContentType, msg.DeliveryMode, msg.MessageId, msg.Type, e.ID, e.Type)
		}
		conform(t, "event", msg.Body)
	})

	t.Run("a failing handler ends in .dead with a reason", func(t *testing.T) {
		if err := listener.Emit(ctx, "word.seen", map[string]string{"word": "boom"}); err != nil {
			t.Fatal(err)
		}
		var reason string
		waitFor(t, "the event in pycounter's dead letters", func() bool {
			letters, err := n.DeadLetters(ctx, "pycounter", "word.seen")
			if err != nil || len(letters) == 0 {
				return false
			}
			reason = letters[0].Reason
			return true
		})
		want := fmt.Sprintf("failed %d times: cannot count boom", hivetest.MaxAttempts)
		if reason != want {
			t.Errorf("dead letter reason %q, want %q", reason, want)
		}
	})

	t.Run("a message that is no event goes to .dead at once", func(t *testing.T) {
		// What a newcomer publishes first: the body without the envelope.
		publishRaw(t, n, "word.seen", `{"word": "raw"}`)
		var reasons []string
		waitFor(t, "the raw message in pycounter's dead letters", func() bool {
			letters, err := n.DeadLetters(ctx, "pycounter", "word.seen")
			reasons = reasons[:0]
			for _, l := range letters {
				reasons = append(reasons, l.Reason)
			}
			return err == nil && len(letters) == 2
		})
		if !strings.HasPrefix(reasons[1], "not an event: ") {
			t.Errorf("dead letter reasons %q: want the second to start with %q", reasons, "not an event: ")
		}
	})

	t.Run("it passes hive conform", func(t *testing.T) {
		out := hiveCLI(t, n, "conform", "-fail", `word.seen={"word": "boom"}`, "pycounter")
		t.Log(out)
		if !strings.Contains(out, " 0 broken, 0 not checked.") {
			t.Errorf("hive conform checked less than every rule:\n%s", out)
		}
	})

	t.Run("it calls only the dictionary versions it asks for", func(t *testing.T) {
		// Beside dictionary 1.4.0, a 2.0.0 and one with a label: neither
		// is in the peer's ^1.
		var others atomic.Int32
		for _, version := range []string{"2.0.0", "dev"} {
			other := hive.New("dictionary")
			other.SetVersion(version)
			hive.Handle(other, "check", func(ctx context.Context, req checkRequest) (checkReply, error) {
				others.Add(1)
				return checkReply{Known: true}, nil
			})
			n.Start(other)
		}
		waitFor(t, "three dictionaries in the registry", func() bool {
			list, err := n.Registry.Instances(ctx, "dictionary")
			return err == nil && len(list) == 3
		})
		for i := range 12 {
			if err := n.Call(ctx, "pycounter.add", map[string]string{"word": "comb"}, nil); err != nil {
				t.Fatalf("pycounter.add, call %d of 12: %v", i+1, err)
			}
		}
		if got := others.Load(); got != 0 {
			t.Errorf("the peer asks for dictionary ^1, and called 2.0.0 or dev %d times in 12", got)
		}

		// Without 1.4.0, no dictionary is in ^1: the peer's add fails,
		// and says which versions run.
		if err := dict.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "dictionary 1.4.0 to leave the registry", func() bool {
			list, err := n.Registry.Instances(ctx, "dictionary")
			return err == nil && len(list) == 2
		})
		err := n.Call(ctx, "pycounter.add", map[string]string{"word": "comb"}, nil)
		want := "no instance of service dictionary runs a version in ^1: 2 run, of version 2.0.0 (1), dev (1)"
		var e *hive.Error
		if !errors.Is(err, hive.ErrUnavailable) || !errors.As(err, &e) || !strings.Contains(e.Message, want) {
			t.Errorf("pycounter.add with no dictionary in ^1: got %v, want unavailable saying %q", err, want)
		}
		if got := others.Load(); got != 0 {
			t.Errorf("the peer called dictionary 2.0.0 or dev %d times: it asks for ^1", got)
		}
	})

	t.Run("it registers again after its session expired", func(t *testing.T) {
		// Frozen longer than its session timeout, the peer loses its
		// session and with it its node; thawed, it must come back.
		old := peerInstances(ctx, t, n)
		peer.cmd.Process.Signal(syscall.SIGSTOP)
		waitFor(t, "ZooKeeper to expire the frozen peer's session", func() bool {
			return len(peerInstances(ctx, t, n)) == 0
		})
		peer.cmd.Process.Signal(syscall.SIGCONT)
		waitFor(t, "the peer to register again", func() bool {
			list := peerInstances(ctx, t, n)
			return len(list) == 1 && list[0].ID == old[0].ID
		})
	})

	peer.stop(t)
	waitFor(t, "the peer's record to go when it stops", func() bool {
		list, err := n.Registry.Instances(ctx, "pycounter")
		return err == nil && len(list) == 0
	})
}

// The dictionary's method that the peer calls: dictionary.check.
type (
	checkRequest struct {
		Word string `json:"word"`
	}
	checkReply struct {
		Known bool `json:"known"`
	}
)

// peerInstances returns the instances of pycounter in n's registry.
func peerInstances(ctx context.Context, t *testing.T, n *hivetest.Network) []registry.Instance {
	t.Helper()
	list, err := n.Registry.Instances(ctx, "pycounter")
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// countedBody is the body of the peer's word.counted event.
type countedBody struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

// requirePython skips t when Debian's python3 lacks kazoo or pika, or,
// under HIVE_REQUIRE_BROKERS=1 (CI), fails it saying what to install.
func requirePython(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import kazoo, pika").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("the Python peer needs %s with kazoo and pika: sudo apt-get install python3-kazoo python3-pika (%v: %s)",
		python, err, strings.TrimSpace(string(out)))
	if os.Getenv(brokertest.RequireEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// peerProcess is the Python peer running as a child process.
type peerProcess struct {
	cmd    *exec.Cmd
	exited chan error
}

// startPeer starts pycounter.py in n's namespace. It is stopped, and its
// queues deleted, when the test ends.
func startPeer(t *testing.T, n *hivetest.Network) *peerProcess {
	t.Helper()
	cmd := exec.Command(python, filepath.Join("python", "pycounter.py"))
	cmd.Env = append(brokerEnv(t, n), "HIVE_EVENT_RETRY_DELAY=50ms", "DICTIONARY_RANGE=^1",
		fmt.Sprintf("HIVE_EVENT_ATTEMPTS=%d", hivetest.MaxAttempts),
		// A cluster's nodes, as hive takes them, the first one down:
		// the peer must go on to the next.
		"HIVE_AMQP_URL=amqp://guest:guest@"+brokerfake.FreeAddr(t)+"/,"+brokertest.RabbitMQ(t))
	cmd.Stdout, cmd.Stderr = n.Logs, n.Logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the Python peer: %v", err)
	}
	p := &peerProcess{cmd: cmd, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		p.stop(t)
		deleteQueues(t, n.Namespace+".pycounter.word.seen")
	})
	return p
}

// stop asks the peer to stop, as a process manager would, and waits.
func (p *peerProcess) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("the Python peer exited with %v", err)
		}
	case <-time.After(wait):
		p.cmd.Process.Kill()
		t.Errorf("the Python peer did not stop within %v of SIGTERM", wait)
		<-p.exited
	}
}

// brokerEnv is the environment that points a process at n's brokers.
func brokerEnv(t *testing.T, n *hivetest.Network) []string {
	return append(os.Environ(),
		"HIVE_NAMESPACE="+n.Namespace,
		"HIVE_ZOOKEEPER="+strings.Join(brokertest.ZooKeeper(t), ","),
		"HIVE_AMQP_URL="+brokertest.RabbitMQ(t),
	)
}

// hiveCLI runs the hive command line on n and returns what it printed.
func hiveCLI(t *testing.T, n *hivetest.Network, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"run", "github.com/hive-workshop/microservices-go/hive/cmd/hive"}, args...)...)
	cmd.Env = brokerEnv(t, n)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hive %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// conform fails t unless doc is valid against the protocol's JSON Schema
// of that name (hive/protocol/<name>.schema.json).
func conform(t *testing.T, name string, doc []byte) {
	t.Helper()
	sch, err := protocol.Schema(name + ".schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := protocol.Validate(sch, doc); err != nil {
		t.Errorf("the peer's %s does not match the schema: %v\n%s", name, err, doc)
	}
}

// catchEvent binds a queue of its own to key on n's exchange, runs cause,
// and returns the first message that arrives, as the broker has it.
func catchEvent(t *testing.T, n *hivetest.Network, key string, cause func()) amqp.Delivery {
	t.Helper()
	ch, done := channel(t)
	defer done()
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err == nil {
		err = ch.QueueBind(q.Name, key, n.Namespace, false, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	cause()
	select {
	case d := <-deliveries:
		return d
	case <-time.After(wait):
		t.Fatalf("no %s came within %v", key, wait)
		return amqp.Delivery{}
	}
}

// publishRaw publishes body as it is to n's exchange, confirmed.
func publishRaw(t *testing.T, n *hivetest.Network, key, body string) {
	t.Helper()
	ch, done := channel(t)
	defer done()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	confirm, err := ch.PublishWithDeferredConfirmWithContext(ctx, n.Namespace, key, true, false,
		amqp.Publishing{ContentType: "application/json", Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := confirm.WaitContext(ctx); !ok || err != nil {
		t.Fatalf("publish %s: not confirmed (%v)", key, err)
	}
}

// deleteQueues deletes the queues the peer declared for a subscription:
// the Go bus deletes only its own.
func deleteQueues(t *testing.T, work string) {
	ch, done := channel(t)
	defer done()
	for _, q := range []string{work, work + ".retry", work + ".dead"} {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Errorf("clean up %s: %v", q, err)
		}
	}
}

// channel opens a connection of its own to the test's RabbitMQ, and a
// channel on it; done closes both.
func channel(t *testing.T) (ch *amqp.Channel, done func()) {
	t.Helper()
	conn, err := amqp.Dial(brokertest.RabbitMQ(t))
	if err != nil {
		t.Fatal(err)
	}
	ch, err = conn.Channel()
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	return ch, func() { conn.Close() }
}

// waitFor waits until cond holds, failing t after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := hivetest.Eventually(wait, func() error {
		if !cond() {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waited %v for %s", wait, what)
	}
}
