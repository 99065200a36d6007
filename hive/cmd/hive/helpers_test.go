package main

import (
	"bytes"
	"context"
	"errors"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/env"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// These tests run the hive binary as a learner would: built with go build,
// against services on real brokers, each test in a namespace of its own.

// hiveBinary is the path of the built binary; TestMain sets it.
var hiveBinary string

// serviceEnv makes the test binary run the menu service (or the front
// service, which calls it) with env.Run, so that `hive node` and hive web
// have real services to start.
const serviceEnv = "HIVE_CLI_TEST_SERVICE"

func TestMain(m *testing.M) {
	if svc := map[string]func() *hive.Service{
		"menu":  func() *hive.Service { return newMenu(nil) },
		"front": newFront,
	}[os.Getenv(serviceEnv)]; svc != nil {
		if err := env.Run(svc()); err != nil {
			log.Fatal(err)
		}
		return
	}
	dir, err := os.MkdirTemp("", "hive-cli-test-")
	if err != nil {
		log.Fatal(err)
	}
	hiveBinary = filepath.Join(dir, "hive")
	if out, err := exec.Command("go", "build", "-o", hiveBinary, ".").CombinedOutput(); err != nil {
		log.Fatalf("go build: %v\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The menu service of these tests.
type (
	GetRequest struct {
		ID int `json:"id"`
	}
	Dish struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	OrderPlaced struct {
		OrderID string `json:"order_id"`
	}
)

// newMenu returns the menu service; it sends the order.placed events it
// handles to placed, if that is not nil.
func newMenu(placed chan<- hive.Event[OrderPlaced]) *hive.Service {
	svc := hive.New("menu")
	hive.Handle(svc, "get", func(ctx context.Context, req GetRequest) (Dish, error) {
		if req.ID != 1 {
			return Dish{}, hive.Errorf(hive.NotFound, "dish %d does not exist", req.ID)
		}
		return Dish{ID: 1, Name: "pizza"}, nil
	}, hive.Idempotent())
	hive.Handle(svc, "trace", func(ctx context.Context, _ struct{}) (string, error) {
		return hive.TraceID(ctx), nil
	})
	hive.On(svc, "order.placed", func(ctx context.Context, e hive.Event[OrderPlaced]) error {
		if placed != nil {
			placed <- e
		}
		return nil
	})
	return svc
}

// newFront returns the front service: its method dish gets a dish from
// the menu, so that the front calls the menu.
func newFront() *hive.Service {
	svc := hive.New("front")
	hive.Handle(svc, "dish", func(ctx context.Context, req GetRequest) (Dish, error) {
		var d Dish
		err := svc.Call(ctx, "menu.get", req, &d)
		return d, err
	})
	return svc
}

// brokerEnv returns the environment that points the hive binary at n.
func brokerEnv(t *testing.T, n *hivetest.Network) []string {
	return append(os.Environ(),
		"HIVE_NAMESPACE="+n.Namespace,
		"HIVE_REGISTRY=zookeeper",
		"HIVE_ZOOKEEPER="+strings.Join(brokertest.ZooKeeper(t), ","),
		"HIVE_EVENTS=rabbitmq",
		"HIVE_AMQP_URL="+brokertest.RabbitMQ(t),
		"GORACE=atexit_sleep_ms=0", // a race-enabled service would wait 1s on exit
	)
}

// result is what a finished run of the binary printed, and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// runHive runs the binary with env, stdin and args, and waits until it ends.
func runHive(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hiveBinary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, strings.NewReader(stdin), &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("hive %s did not end within 30s:\n%s%s", strings.Join(args, " "), &stdout, &stderr)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) { // an exit status is a result, anything else a failure
		t.Fatalf("hive %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("$ hive %s\n%s%s(exit %d)", strings.Join(args, " "), &stdout, &stderr, cmd.ProcessState.ExitCode())
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// running is the binary running in the background, for commands that run
// until stopped.
type running struct {
	cmd            *exec.Cmd
	stdout, stderr *output
	done           chan struct{} // closed when the process has ended
}

func startHive(t *testing.T, env []string, args ...string) *running {
	t.Helper()
	r := &running{cmd: exec.Command(hiveBinary, args...), stdout: newOutput(), stderr: newOutput(), done: make(chan struct{})}
	r.cmd.Env, r.cmd.Stdout, r.cmd.Stderr = env, r.stdout, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		r.interrupt(t) // a no-op if the test has stopped it already
		t.Logf("$ hive %s\n%s%s", strings.Join(args, " "), r.stdout, r.stderr)
	})
	return r
}

// interrupt sends SIGINT, as Ctrl-C does, and returns the exit code.
func (r *running) interrupt(t *testing.T) int {
	t.Helper()
	r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
		t.Errorf("hive did not end within 30s of SIGINT")
	}
	return r.cmd.ProcessState.ExitCode()
}

// output collects what a process prints, and lets a test wait for a text
// to appear in it.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.changed)
	o.changed = make(chan struct{})
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output contains s, and returns the output.
func (o *output) waitFor(t *testing.T, s string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		o.mu.Lock()
		text, changed := o.buf.String(), o.changed
		o.mu.Unlock()
		if strings.Contains(text, s) {
			return text
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("waited 20s for %q; the output so far:\n%s", s, text)
		}
	}
}

// waitForInstances waits until the list of instances that the registry
// sends satisfies ok, and returns it.
func waitForInstances(t *testing.T, updates <-chan []registry.Instance, ok func([]registry.Instance) bool) []registry.Instance {
	t.Helper()
	deadline := time.After(20 * time.Second)
	var last []registry.Instance
	for {
		select {
		case list := <-updates:
			if ok(list) {
				return list
			}
			last = list
		case <-deadline:
			t.Fatalf("waited 20s for the instances to change; the last list: %+v", last)
		}
	}
}

// closedAddr returns a local address that nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// row returns the fields of the line of out that contains s.
func row(t *testing.T, out, s string) []string {
	t.Helper()
	for line := range strings.Lines(out) {
		if strings.Contains(line, s) {
			return strings.Fields(line)
		}
	}
	t.Fatalf("no line contains %q:\n%s", s, out)
	return nil
}
