package hivetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	eventsmemory "github.com/hive-workshop/microservices-go/hive/events/memory"
	"github.com/hive-workshop/microservices-go/hive/registry"
	registrymemory "github.com/hive-workshop/microservices-go/hive/registry/memory"
)

// Network is a little world of services for one test: a registry and an
// event bus they share, and a client to call them with. Services started on
// it stop when the test ends. Their log lines are kept, and printed only if
// the test fails.
type Network struct {
	Namespace string
	Registry  registry.Registry
	Bus       events.Bus
	Logs      *Logs

	t          testing.TB
	logger     *slog.Logger
	clientOnce sync.Once // a test may call from many goroutines at once
	client     *hive.Client

	mu      sync.Mutex
	started []*hive.Service // by StartWith, for DeadLetters
}

// MaxAttempts is how often the network's bus delivers an event whose
// handler keeps failing, before it moves the event to the dead letters, and
// RetryDelay how long the event waits between tries. The retries are fast,
// so that tests of failing handlers finish quickly.
const (
	MaxAttempts = 3
	RetryDelay  = 50 * time.Millisecond
)

// NewNetwork returns a network on the in-memory registry and event bus: no
// brokers needed, and fast.
func NewNetwork(t testing.TB) *Network {
	t.Helper()
	n := newNetwork(t)
	n.Registry = registrymemory.New()
	n.Bus = eventsmemory.New(eventsmemory.Options{Namespace: n.Namespace, MaxAttempts: MaxAttempts, RetryDelay: RetryDelay, Logger: n.logger})
	return n
}

// newNetwork returns a network without backends yet; its cleanup closes
// whatever backends the caller sets.
func newNetwork(t testing.TB) *Network {
	n := &Network{Namespace: Namespace(t), Logs: &Logs{}, t: t}
	n.logger = slog.New(slog.NewTextHandler(n.Logs, nil))
	t.Cleanup(func() {
		if n.client != nil {
			n.client.Close()
		}
		if n.Bus != nil {
			n.Bus.Close()
		}
		if n.Registry != nil {
			n.Registry.Close()
		}
		if t.Failed() {
			t.Logf("hivetest: the services' log lines:\n%s", n.Logs)
		}
	})
	return n
}

// Config returns the configuration services started on n get. Change it
// and pass it to StartWith for special cases.
func (n *Network) Config() hive.Config {
	return hive.Config{Registry: n.Registry, Bus: n.Bus, Logger: n.logger}
}

// Start starts svc on n and stops it when the test ends. It fails the test
// if svc cannot start.
func (n *Network) Start(svc *hive.Service) *hive.Service {
	n.t.Helper()
	return n.StartWith(svc, n.Config())
}

// StartWith starts svc with cfg, like Start.
func (n *Network) StartWith(svc *hive.Service, cfg hive.Config) *hive.Service {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.Start(ctx, cfg); err != nil {
		n.t.Fatalf("hivetest: %v", err)
	}
	n.mu.Lock()
	n.started = append(n.started, svc)
	n.mu.Unlock()
	n.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		svc.Stop(ctx)
	})
	return svc
}

// Client returns a client on n's registry, for calling services from a
// test.
func (n *Network) Client() *hive.Client {
	n.clientOnce.Do(func() {
		n.client = hive.NewClient(n.Registry, hive.ClientOptions{Logger: n.logger})
	})
	return n.client
}

// Call calls method ("service.method") with req and decodes the answer
// into resp; see hive.Client.Call.
func (n *Network) Call(ctx context.Context, method string, req, resp any) error {
	return n.Client().Call(ctx, method, req, resp)
}

// DeadLetters returns the events that the handler of service for pattern
// gave up on (see hive.On), with the reason for each, without removing them.
// The service is one started on n, or else one that names its queue as
// hive does by default (such as a peer written from PROTOCOL.md).
func (n *Network) DeadLetters(ctx context.Context, service, pattern string) ([]events.DeadLetter, error) {
	bus, ok := n.Bus.(events.DeadLetterLister)
	if !ok {
		return nil, fmt.Errorf("hivetest: the bus %T cannot list dead letters", n.Bus)
	}
	return bus.DeadLetters(ctx, n.subscription(service, pattern))
}

// subscription returns the subscription of service's handler for pattern,
// as hive gave it to the bus.
func (n *Network) subscription(service, pattern string) events.Subscription {
	n.mu.Lock()
	started := n.started
	n.mu.Unlock()
	for _, svc := range started {
		if svc.Name() != service {
			continue
		}
		for _, s := range svc.Subscriptions() {
			if s.Pattern == pattern {
				return s
			}
		}
	}
	// Not started here: ask hive what such a handler would subscribe with,
	// rather than guess how it names queues.
	probe := hive.New(service)
	hive.On(probe, pattern, func(context.Context, hive.Event[json.RawMessage]) error { return nil })
	return probe.Subscriptions()[0]
}

// Logs collects log lines from many goroutines.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

var _ io.Writer = (*Logs)(nil)

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns all lines logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
