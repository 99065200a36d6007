package hive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/internal/clip"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// Config is what a service needs to run: where to listen, and the registry
// and event bus to use. env.Run builds one from the environment; tests build
// their own (see the hivetest package).
type Config struct {
	Registry registry.Registry // required
	Bus      events.Bus        // required if the service handles or emits events

	Listen    string // the address to listen on; "127.0.0.1:0" (any free port) if empty
	Advertise string // the host:port others reach it at; the listener's address if empty

	Logger       *slog.Logger // slog.Default() if nil
	MaxBodyBytes int64        // the largest request body accepted; 1 MiB if 0

	// Deadlines, one per job: how long the work may take before its
	// context ends. A zero field takes its default (see below).
	CallTimeout  time.Duration // a call the service makes (Service.Call) whose context has no deadline; env: HIVE_CALL_TIMEOUT
	ServeTimeout time.Duration // a call to the service that brings no deadline (no Hive-Timeout header: curl, say)
	EventTimeout time.Duration // one try of an event handler

	// Limits on callers, so that none can hold an instance open (see
	// README, "What an instance will not take").
	ReadTimeout time.Duration // how long a caller may take to send a whole request, and to take its answer; 10s if 0
	IdleTimeout time.Duration // how long a keep-alive connection may idle before it is closed; 1m if 0
	MaxConns    int           // the most connections open at once; at the cap, idle ones are closed and new ones wait; 512 if 0
	MaxInFlight int           // the most requests answered at once, counted once a request has arrived whole; more are refused as unavailable; 256 if 0

	// ShowErrors, for development only, lets the text of a method's plain
	// error (not an *Error) reach the caller. By default the caller gets
	// Internal with an incident id and the text goes to the log only: an
	// error from a driver may hold an address or a password. env:
	// HIVE_SHOW_ERRORS.
	ShowErrors bool
}

// The defaults of Config's deadlines, in one place. They are all the same
// today, but they are separate jobs: a service may wait less for others
// than it gives its own handlers, say. A deadline that a call brings along
// wins over ServeTimeout (the caller knows how long it waits), up to a
// minute.
const (
	DefaultCallTimeout  = 5 * time.Second // Config.CallTimeout, and a Client's
	DefaultServeTimeout = 5 * time.Second // Config.ServeTimeout
	DefaultEventTimeout = 5 * time.Second // Config.EventTimeout
)

// instance is the running part of a Service.
type instance struct {
	cfg      Config
	record   registry.Instance
	logger   *slog.Logger
	client   *Client
	server   *http.Server
	listener *cappedListener
	served   chan struct{} // closed when the server's Serve returns
	unsubs   []func()
	stopping bool
	hooked   bool // the OnStart hooks all ran

	// halt ends the contexts of event handlers still running when Stop
	// runs out of time, so that no handler can hold up a stop for ever.
	halted context.Context
	halt   context.CancelFunc
}

// Start starts the service: it runs the OnStart hooks, listens, subscribes
// to its events and finally registers, so that nobody calls it before it is
// ready. It returns once the instance serves; Stop stops it.
func (s *Service) Start(ctx context.Context, cfg Config) (err error) {
	in, err := s.newInstance(cfg)
	if err != nil {
		return fmt.Errorf("hive: start %s: %w", s.name, err)
	}
	defer func() {
		if err != nil {
			s.shutdown(context.Background())
			err = fmt.Errorf("hive: start %s: %w", s.name, err)
		}
	}()
	if err := s.runStartHooks(ctx, in); err != nil {
		return err
	}
	if err := s.listen(in); err != nil {
		return err
	}
	if err := s.subscribe(ctx, in); err != nil {
		return err
	}
	if err := in.cfg.Registry.Register(ctx, in.record); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	in.logger.Info("started", "endpoint", in.record.Endpoint, "methods", s.methodNames())
	return nil
}

// newInstance checks cfg and makes s the running instance: its record,
// logger and client. A Service runs once.
func (s *Service) newInstance(cfg Config) (*instance, error) {
	if cfg.Registry == nil {
		return nil, errors.New("Config.Registry is nil")
	}
	if cfg.Bus == nil && len(s.subs) > 0 {
		return nil, errors.New("the service handles events, but Config.Bus is nil")
	}
	cfg = withDefaults(cfg)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running != nil {
		return nil, errors.New("already started; build a new Service for another instance")
	}
	in := &instance{cfg: cfg, served: make(chan struct{})}
	in.halted, in.halt = context.WithCancel(context.Background())
	in.record = registry.Instance{ID: s.name + "-" + newID()[:8], Service: s.name, Version: s.version, PID: os.Getpid(), Started: time.Now().UTC()}
	in.record.Host, _ = os.Hostname()
	for _, name := range s.methodNames() {
		if s.methods[name].idempotent {
			in.record.Idempotent = append(in.record.Idempotent, name)
		}
	}
	in.logger = slog.New(LogHandler(cfg.Logger.Handler())).With("service", s.name, "instance", in.record.ID)
	in.client = NewClient(cfg.Registry, ClientOptions{Picker: s.picker, Timeout: cfg.CallTimeout, Logger: in.logger})
	s.running = in
	return in, nil
}

// runStartHooks runs the OnStart hooks, before the instance serves
// anything.
func (s *Service) runStartHooks(ctx context.Context, in *instance) error {
	for _, hook := range s.onStart {
		if err := hook(ctx); err != nil {
			return fmt.Errorf("start hook: %w", err)
		}
	}
	in.hooked = true // from now on, a stop runs the OnStop hooks
	return nil
}

// listen opens the instance's port and serves RPCs on it.
func (s *Service) listen(in *instance) error {
	ln, err := net.Listen("tcp", in.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", in.cfg.Listen, err)
	}
	s.mu.Lock() // others may read the record already, through ID or Endpoint
	in.record.Endpoint = ln.Addr().String()
	if in.cfg.Advertise != "" {
		in.record.Endpoint = in.cfg.Advertise
	}
	s.mu.Unlock()
	in.server = s.newServer(in)
	in.listener = newCappedListener(ln, in.cfg.MaxConns, in.keepAlive)
	go func() {
		defer close(in.served)
		if err := in.server.Serve(envelopeListener{in.listener, s.name}); !errors.Is(err, http.ErrServerClosed) {
			in.logger.Error("server stopped", "error", err)
		}
	}()
	return nil
}

// keepAlive is told when the instance's connections reach MaxConns (full)
// and when there is room again: see cappedListener.
func (in *instance) keepAlive(full bool) {
	if full {
		in.logger.Warn("connections at their limit: closing idle keep-alive connections; new ones wait until others close",
			"open", in.cfg.MaxConns, "limit", "Config.MaxConns")
		in.server.SetKeepAlivesEnabled(false)
		return
	}
	in.server.SetKeepAlivesEnabled(true)
	in.logger.Info("connections below their limit again: keep-alive is back", "open", in.listener.conns())
}

// subscribe starts the delivery of the events the service handles, each
// through the event pipeline.
func (s *Service) subscribe(ctx context.Context, in *instance) error {
	pipeline := s.eventPipeline(in)
	for _, sub := range s.subs {
		unsub, err := in.cfg.Bus.Subscribe(ctx, sub.forBus(s.name, in.record.ID), in.eventHandler(sub, pipeline))
		if err != nil {
			return fmt.Errorf("subscribe to %q: %w", sub.pattern, err)
		}
		in.unsubs = append(in.unsubs, unsub)
	}
	return nil
}

func withDefaults(cfg Config) Config {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.ServeTimeout <= 0 {
		cfg.ServeTimeout = DefaultServeTimeout
	}
	if cfg.EventTimeout <= 0 {
		cfg.EventTimeout = DefaultEventTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBody
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = defaultReadTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = defaultMaxInFlight
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = defaultMaxConns
	}
	return cfg
}

// eventHandler hands the events of sub to the event pipeline. Like a
// call, a handler has a deadline: EventTimeout.
func (in *instance) eventHandler(sub *subscription, pipeline Handler) events.Handler {
	return func(ctx context.Context, e events.Event) error {
		c := &Call{Name: sub.pattern, Event: &e, trace: e.TraceID, timeout: in.cfg.EventTimeout,
			work: func(ctx context.Context) (any, error) { return nil, sub.handle(ctx, e) }}
		_, err := pipeline(ctx, c)
		return err
	}
}

// haltable ends the handler's context when a Stop runs out of time
// waiting for it, so that no handler can hold up a stop for ever.
func (in *instance) haltable(next Handler) Handler {
	return func(ctx context.Context, c *Call) (any, error) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(in.halted, cancel)()
		return next(ctx, c)
	}
}

// loggedEvent logs how the handler ended: a failure as a warning, for the
// event comes again; a success only when debugging.
func (in *instance) loggedEvent(next Handler) Handler {
	return func(ctx context.Context, c *Call) (any, error) {
		resp, err := next(ctx, c)
		if err != nil {
			// The error may quote the event's body, which may be
			// megabytes long: the log gets its start.
			in.logger.WarnContext(ctx, "event handler failed", "event", c.Event.Type, "id", c.Event.ID,
				"error", clip.Text(err.Error(), clip.ForLog))
			return resp, err
		}
		in.logger.DebugContext(ctx, "event handled", "event", c.Event.Type, "id", c.Event.ID)
		return resp, nil
	}
}

// countedEvent counts the event for status: handled or failed.
func (s *Service) countedEvent(next Handler) Handler {
	return func(ctx context.Context, c *Call) (any, error) {
		resp, err := next(ctx, c)
		if err != nil {
			s.stats.eventsFailed.Add(1)
		} else {
			s.stats.eventsHandled.Add(1)
		}
		return resp, err
	}
}

// Stop stops the service gracefully: it deregisters first, so that callers
// stop sending; then it stops taking new requests and events, waits for
// those in flight (until ctx ends), and runs the OnStop hooks.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	in := s.running
	if in == nil || in.stopping {
		s.mu.Unlock()
		return nil
	}
	in.stopping = true
	s.mu.Unlock()
	return s.shutdown(ctx)
}

// shutdown undoes what Start did, as far as Start got: Stop calls it, and so
// does a Start that fails half way.
func (s *Service) shutdown(ctx context.Context) error {
	in := s.running
	var errs []error
	if in.record.Endpoint != "" { // a start that failed before listening registered nothing
		if err := in.cfg.Registry.Deregister(ctx, in.record); err != nil {
			errs = append(errs, fmt.Errorf("deregister: %w", err))
		}
	}
	if in.server != nil {
		if err := in.server.Shutdown(ctx); err != nil {
			in.server.Close()
			errs = append(errs, fmt.Errorf("drain requests: %w", err))
		}
		<-in.served
	}
	unsubscribed := make(chan struct{})
	go func() {
		defer close(unsubscribed)
		for _, unsub := range in.unsubs {
			unsub() // waits for the handlers in flight
		}
	}()
	select {
	case <-unsubscribed:
	case <-ctx.Done():
		in.halt() // their events are not acknowledged, so they come again
		<-unsubscribed
		errs = append(errs, fmt.Errorf("drain events: %w", ctx.Err()))
	}
	in.halt()
	if in.hooked {
		for _, hook := range s.onStop {
			if err := hook(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop hook: %w", err))
			}
		}
	}
	in.client.Close()
	in.logger.Info("stopped")
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hive: stop %s: %w", s.name, err)
	}
	return nil
}

// Call calls another service's method; see Client.Call.
func (s *Service) Call(ctx context.Context, method string, req, resp any) error {
	in, err := s.instance("call " + method)
	if err != nil {
		return err
	}
	start := time.Now()
	err = in.client.Call(ctx, method, req, resp)
	service, _, _ := strings.Cut(method, ".")
	s.stats.called(service, time.Since(start), err != nil)
	return err
}

// Emit publishes an event of the given type, with body encoded as JSON. It
// returns nil only once the event bus has the event safely, in the queue of
// every service that subscribes to it.
//
// If no service subscribes to eventType, nobody would ever get the event,
// and Emit fails with an error that wraps events.ErrNoSubscriber: a caller
// that must not lose the event fails too, to be tried again later. (A
// service's queue outlives its instances, so this happens only before the
// first subscriber ever started.) If a service subscribes but the bus
// could not store the event just now (a broker's nack, a subscriber's
// queue down, no connection before ctx ended), the error wraps
// events.ErrNotStored, and a method that returns it answers unavailable.
// Any error means the event may be lost; emitting it again is safe, since
// handlers cope with duplicates.
func (s *Service) Emit(ctx context.Context, eventType string, body any) error {
	return s.emit(ctx, 0, eventType, body)
}

// EmitAfter is Emit for later: the event reaches its subscribers no
// earlier than delay from now (rounded up to whole seconds, at most
// events.MaxDelay), and waits on the bus meanwhile, a broker restart
// included; see events.Bus.PublishAfter. It returns once the bus keeps
// the event. Who subscribes is known only when its time comes, so it
// never fails with events.ErrNoSubscriber: an event nobody takes then is
// dropped. Use it for a check that must happen later ("if the order is not
// cooked in 30 s, tell the customer"): the handler looks whether it still
// has to act.
func (s *Service) EmitAfter(ctx context.Context, delay time.Duration, eventType string, body any) error {
	return s.emit(ctx, delay, eventType, body)
}

func (s *Service) emit(ctx context.Context, delay time.Duration, eventType string, body any) error {
	in, err := s.instance("emit " + eventType)
	if err != nil {
		return err
	}
	if in.cfg.Bus == nil {
		return fmt.Errorf("hive: %s: emit %s: Config.Bus is nil", s.name, eventType)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("hive: %s: emit %s: cannot encode the body as JSON: %w", s.name, eventType, err)
	}
	ctx, trace := ensureTrace(ctx)
	e := events.Event{ID: newID(), Type: eventType, Source: in.record.ID, TraceID: trace, Time: time.Now().UTC(), Body: data}
	if delay > 0 {
		err = in.cfg.Bus.PublishAfter(ctx, delay, e)
	} else {
		err = in.cfg.Bus.Publish(ctx, e)
	}
	if err != nil {
		return fmt.Errorf("hive: %s: emit %s: %w", s.name, eventType, err)
	}
	s.stats.eventsEmitted.Add(1)
	in.logger.DebugContext(ctx, "event emitted", "event", eventType, "id", e.ID, "delay", delay)
	return nil
}

// Logger returns the instance's logger. Log with a context (InfoContext and
// friends) and each line carries the trace id of the work at hand. Before
// Start, it logs through slog.Default(), with no instance id yet.
func (s *Service) Logger() *slog.Logger {
	s.mu.Lock()
	in := s.running
	s.mu.Unlock()
	if in != nil {
		return in.logger
	}
	return slog.New(LogHandler(slog.Default().Handler())).With("service", s.name)
}

// ID returns the instance id, once started.
func (s *Service) ID() string { return s.record().ID }

// Endpoint returns the host:port the instance serves RPCs at, once started.
func (s *Service) Endpoint() string { return s.record().Endpoint }

func (s *Service) instance(what string) (*instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		return nil, fmt.Errorf("hive: %s: %s: the service is not started", s.name, what)
	}
	return s.running, nil
}
