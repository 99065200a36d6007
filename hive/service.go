// Package hive is a small framework for writing services that talk to each
// other: by RPC (request and response, JSON over HTTP, straight from one
// instance to another), by events (publish and subscribe through an event
// bus such as RabbitMQ), and that find each other through a registry (such
// as ZooKeeper).
//
// A service is a name, typed RPC methods, event handlers and start/stop
// hooks:
//
//	svc := hive.New("greeter")
//	hive.Handle(svc, "greet", func(ctx context.Context, req Request) (Reply, error) {
//		return Reply{Greeting: "Hello, " + req.Name}, nil
//	})
//	if err := env.Run(svc); err != nil {
//		log.Fatal(err)
//	}
//
// env.Run, in package hive/env, reads the configuration from the HIVE_*
// environment variables, connects to the registry and the event bus they
// name, starts the service, serves until SIGINT or SIGTERM, and then shuts
// down gracefully. Package hive itself knows no driver: Start takes the
// registry and the event bus in a Config. Tests start services with Start,
// or with the hivetest package.
package hive

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// Service is one instance of a service: what it offers (methods, event
// handlers, hooks), and, once started, the running instance. Build it with
// New, Handle, On, Use, OnStart and OnStop, then Start it (or env.Run it)
// once. To run two instances in one process, build two Services.
type Service struct {
	name    string
	version string
	picker  Picker // nil: the client's default

	methods    map[string]*method
	subs       []*subscription
	middleware []Middleware
	onStart    []func(context.Context) error
	onStop     []func(context.Context) error

	mu      sync.Mutex
	running *instance // nil until Start
	stats   stats
}

// method is one RPC method: call decodes the request body, runs the
// handler and returns the response to encode.
type method struct {
	name       string
	idempotent bool
	request    any // zero values, for inspect
	response   any
	call       func(ctx context.Context, body []byte) (any, error)
}

// subscription is one event handler.
type subscription struct {
	pattern   string
	queue     string // names the handler's queue; the pattern unless Queue says otherwise
	broadcast bool
	inOrder   bool
	body      any // zero value, for inspect
	handle    func(ctx context.Context, e events.Event) error
}

// New returns a service called name. The name is how callers find it, so it
// should be short and stable: "menu", "order", "kitchen".
func New(name string) *Service {
	return &Service{name: name, methods: make(map[string]*method)}
}

// Registry returns the registry the service runs with, or nil before Start:
// for services that follow the comings and goings of others themselves.
func (s *Service) Registry() registry.Registry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		return nil
	}
	return s.running.cfg.Registry
}

// Name returns the service's name.
func (s *Service) Name() string { return s.name }

// SetVersion records the service's version, which the registry and the
// status method show and callers' ranges match (see WithVersion): semver
// such as "1.4.0", or a label such as "dev" that no range matches. Like
// the other setters, it panics once the service has started.
func (s *Service) SetVersion(v string) {
	s.mustNotHaveStarted("SetVersion")
	s.version = v
}

// SetPicker sets the policy by which the service's calls to other services
// pick an instance (see Picker). Without it, calls take turns: RoundRobin.
func (s *Service) SetPicker(p Picker) {
	s.mustNotHaveStarted("SetPicker")
	s.picker = p
}

// A MethodOption changes how a method is served or called.
type MethodOption func(*method)

// Idempotent declares that calling the method twice has the same effect as
// calling it once. Clients then retry it on another instance after any
// failure that may be the instance's fault, even when the request may
// already have reached the first instance.
func Idempotent() MethodOption {
	return func(m *method) { m.idempotent = true }
}

// Handle adds an RPC method called name to s. The request body is decoded
// from JSON into a Req, and the Resp that fn returns is encoded as JSON. To
// fail, fn returns an error; an *Error (see Errorf) reaches the caller with
// its code, any other error arrives as Internal.
//
// Handle panics if s already has a method of that name or has started: both
// are mistakes in the program, not in its input.
func Handle[Req, Resp any](s *Service, name string, fn func(ctx context.Context, req Req) (Resp, error), opts ...MethodOption) {
	m := &method{
		name:     name,
		request:  *new(Req),
		response: *new(Resp),
		call: func(ctx context.Context, body []byte) (any, error) {
			var req Req
			if len(body) > 0 {
				if err := json.Unmarshal(body, &req); err != nil {
					return nil, Errorf(BadRequest, "the request body is not valid JSON for %s: %v", typeName(req), err)
				}
			}
			return fn(ctx, req)
		},
	}
	for _, opt := range opts {
		opt(m)
	}
	s.mustNotHaveStarted("Handle")
	if _, ok := s.methods[name]; ok || isBuiltin(name) {
		panic(fmt.Sprintf("hive: service %s already has a method %q", s.name, name))
	}
	s.methods[name] = m
}

// An EventOption changes how an event handler gets its events.
type EventOption func(*subscription)

// Broadcast makes every instance of the service handle every event, instead
// of one instance per event. Use it for things each instance must know, such
// as "menu.changed" to clear a cache.
func Broadcast() EventOption {
	return func(s *subscription) { s.broadcast = true }
}

// InOrder makes the handler's events come one at a time, in the order its
// queue got them, across all instances of the service: one instance
// handles them while the others stand by, and a failing event is retried
// in place while the events behind it wait (see events.Subscription's
// InOrder). Use it where order matters more than throughput, such as the
// steps of one order. It cannot be turned on for an existing queue: give
// the handler a new one with Queue.
func InOrder() EventOption {
	return func(s *subscription) { s.inOrder = true }
}

// Queue names the handler's queue: the queue that holds its events while
// they wait, shared by the service's instances. Without it, the queue is
// named after the pattern, so a handler for "order.placed" of the kitchen
// service reads from the queue "<namespace>.kitchen.order.placed". With
// Queue("orders") it reads from "<namespace>.kitchen.orders", and its
// pattern can change without its queue changing.
//
// A queue outlives the instances that read it: that is what keeps events
// for a service while none of its instances runs. So when a new release
// changes a handler's pattern (without Queue) or its queue name, the old
// queue stays, still bound to the old pattern, and fills with events that
// nobody will ever read. Delete it once no running instance reads it any
// more, with its retry and dead-letter queues:
//
//	rabbitmqctl delete_queue <namespace>.kitchen.order.placed
//	rabbitmqctl delete_queue <namespace>.kitchen.order.placed.retry
//	rabbitmqctl delete_queue <namespace>.kitchen.order.placed.dead
//
// (or with the "Delete" button on the queue's page in RabbitMQ's web UI,
// or from Go with the RabbitMQ bus's DeleteQueues).
func Queue(name string) EventOption {
	return func(s *subscription) { s.queue = name }
}

// Event is an event as a handler gets it: the envelope, with the body
// decoded into T.
type Event[T any] struct {
	ID      string    // unique per event; the same when an event is delivered again
	Type    string    // "order.placed"
	Source  string    // the instance that emitted it
	TraceID string    // the trace of the work that caused it
	Time    time.Time // when it was emitted
	Body    T
}

// On subscribes s to events whose type matches pattern: dot-separated
// words, where "*" matches one word and "#" matches any number of words
// ("order.placed", "order.*", "#").
//
// By default the instances of a service share its events: each event is
// handled by one of them. They read it from the handler's queue, named
// after the pattern; see Queue before changing a pattern. An event is delivered at least once, so fn may see
// the same event again (use Event.ID to tell) and must cope. When fn returns
// an error, the event is delivered again later, a few times, and then moved
// to a dead-letter queue; an error wrapped in events.Permanent moves it
// there at once.
//
// Like a call, a handler has a deadline: its context ends after
// Config.EventTimeout, or sooner when a Stop runs out of time waiting for it.
//
// On panics if s already handles that pattern or has started.
func On[T any](s *Service, pattern string, fn func(ctx context.Context, e Event[T]) error, opts ...EventOption) {
	sub := &subscription{
		pattern: pattern,
		queue:   pattern,
		body:    *new(T),
		handle: func(ctx context.Context, e events.Event) error {
			ev := Event[T]{ID: e.ID, Type: e.Type, Source: e.Source, TraceID: e.TraceID, Time: e.Time}
			if err := json.Unmarshal(e.Body, &ev.Body); err != nil {
				return events.Permanent(fmt.Errorf("event %s (%s): the body is not valid JSON for %s: %w", e.ID, e.Type, typeName(ev.Body), err))
			}
			return fn(ctx, ev)
		},
	}
	for _, opt := range opts {
		opt(sub)
	}
	s.mustNotHaveStarted("On")
	for _, other := range s.subs {
		if other.pattern == pattern {
			panic(fmt.Sprintf("hive: service %s already handles events %q", s.name, pattern))
		}
	}
	s.subs = append(s.subs, sub)
}

// Subscriptions returns the service's event handlers as the event bus sees
// them, one per On, in the order they were added: which events each
// wants, and the Name its queue is known by (see Queue). Tools use them to
// find a handler's queue, for instance to list its dead letters (see
// events.DeadLetterLister). Instance is set once the service has started.
func (s *Service) Subscriptions() []events.Subscription {
	instance := s.ID()
	subs := make([]events.Subscription, len(s.subs))
	for i, sub := range s.subs {
		subs[i] = sub.forBus(s.name, instance)
	}
	return subs
}

// forBus returns sub as the bus sees it, for an instance of service: the
// one place that says which queue a handler reads from.
func (sub *subscription) forBus(service, instance string) events.Subscription {
	return events.Subscription{
		Service:   service,
		Name:      sub.queue,
		Pattern:   sub.pattern,
		Broadcast: sub.broadcast,
		InOrder:   sub.inOrder,
		Instance:  instance,
	}
}

// OnStart adds a hook that runs when the service starts, before it serves
// anything. An error stops the start.
func (s *Service) OnStart(fn func(ctx context.Context) error) {
	s.mustNotHaveStarted("OnStart")
	s.onStart = append(s.onStart, fn)
}

// OnStop adds a hook that runs when the service stops, after it has drained
// its requests and events. It runs only if all OnStart hooks succeeded, so
// it can clean up what they made without checking.
func (s *Service) OnStop(fn func(ctx context.Context) error) {
	s.mustNotHaveStarted("OnStop")
	s.onStop = append(s.onStop, fn)
}

// mustNotHaveStarted panics if s has ever started: what a Service offers is
// fixed at Start, and a stopped Service cannot start again either.
func (s *Service) mustNotHaveStarted(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running != nil {
		panic(fmt.Sprintf("hive: %s on service %s after it started", what, s.name))
	}
}

// methodNames returns the names of s's own methods, sorted.
func (s *Service) methodNames() []string {
	names := make([]string, 0, len(s.methods))
	for name := range s.methods {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// record returns the registry record of the running instance.
func (s *Service) record() registry.Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		return registry.Instance{}
	}
	return s.running.record
}

func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "any"
	}
	return t.String()
}
