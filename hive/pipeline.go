package hive

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
)

// What happens to a call: every RPC and every event that reaches a running
// instance passes through a pipeline of small wrappers. Each does one job
// and hands the call on to the next; the last runs the method or the event
// handler. Read from the outside in:
//
//	an RPC                         an event
//	traced      (the trace id)     traced      (the trace id)
//	logged      (one line)         withDeadline
//	counted     (status: calls)    haltable    (a Stop that gives up ends it)
//	admitted    (checks, body)     logged      (one line)
//	timed       (status: latency)  counted     (status: events)
//	answeredAs  (the error's code) recovered   (a panic is an incident)
//	withDeadline                   your middleware (see Service.Use)
//	recovered   (a panic is an     the handler
//	            incident)
//	your middleware (see Service.Use)
//	the method

// rpcPipeline returns the pipeline every RPC to in passes through.
func (rs *rpcServer) rpcPipeline() Handler {
	s, in := rs.svc, rs.in
	return pipe(invoke, append([]Middleware{
		traced, in.loggedCall, s.countedCall, rs.admitted, s.timed, rs.answeredAs, withDeadline, in.recovered,
	}, s.middleware...)...)
}

// eventPipeline returns the pipeline every event for in passes through.
func (s *Service) eventPipeline(in *instance) Handler {
	return pipe(invoke, append([]Middleware{
		traced, withDeadline, in.haltable, in.loggedEvent, s.countedEvent, in.recovered,
	}, s.middleware...)...)
}

// A Call is one piece of work that reaches a running service: an RPC to
// one of its methods, or an event for one of its handlers. Middleware
// reads it to decide what to do; see Service.Use.
type Call struct {
	// Name says what runs: the method called ("greet", or a built-in
	// such as "ping"), or the pattern of the event handler, as given to
	// On ("order.*").
	Name string

	// Event is the event being handled; nil for an RPC.
	Event *events.Event

	// Header holds the HTTP headers of an RPC, such as one that curl
	// sends with -H; nil for an event. Read it, do not change it.
	Header http.Header

	trace   string                                 // the trace id it came with; once traced, the one it runs in
	timeout time.Duration                          // how long the work may take
	work    func(ctx context.Context) (any, error) // the method or the event handler itself

	w http.ResponseWriter // an RPC's answer, and its request; nil for an event
	r *http.Request
}

// A Handler does the work of a call: for an RPC it runs the method and
// returns its response, for an event it runs the handler and returns nil.
// An error is a failure. For an RPC, an *Error (see Errorf) reaches the
// caller with its code; any other error is an incident: the caller gets
// Internal and an incident id, the log gets the error's text; for an
// event, an error means "not handled", so the event comes again later or
// ends in the dead letters (see On).
type Handler func(ctx context.Context, c *Call) (any, error)

// A Middleware wraps a Handler in work of its own, before the call, after
// it, or instead of it (see Service.Use).
type Middleware func(next Handler) Handler

// Use adds middleware that every call of the service passes through: every
// RPC, the built-in ones (ping, status, inspect) included, and every event.
// It is the place for checks and measurements of your own, such as auth
// or metrics, without changing hive. The first middleware added is the
// outermost: it sees a call first and its result last.
//
// Hive's own wrappers come first (see "What happens to a call" in
// pipeline.go), so when a middleware runs:
//   - ctx carries the call's trace id (TraceID) and its deadline;
//   - an RPC has passed hive's checks, and its method exists;
//   - a panic is recovered as one in a method is: the caller gets an
//     Internal error that names an incident, the log has the details;
//   - an error it returns is the answer, as a method's would be: an *Error
//     reaches the caller with its code, any other error is an incident
//     (Internal, its text in the log only), and for an event any error
//     means "not handled", so the event comes again later.
//
// Call.Event tells an event from an RPC. Like the other setters, Use
// panics once the service has started.
func (s *Service) Use(mw ...Middleware) {
	s.mustNotHaveStarted("Use")
	s.middleware = append(s.middleware, mw...)
}

// pipe wraps h in wrappers, the first outermost: pipe(h, a, b) is a(b(h)).
func pipe(h Handler, wrappers ...Middleware) Handler {
	for _, wrap := range slices.Backward(wrappers) {
		h = wrap(h)
	}
	return h
}

// invoke does the work itself: the inner end of every pipeline.
func invoke(ctx context.Context, c *Call) (any, error) {
	return c.work(ctx)
}

// traced runs the call in the trace it came with, or in a new one, so
// that every log line on its way carries the trace id.
func traced(next Handler) Handler {
	return func(ctx context.Context, c *Call) (any, error) {
		ctx, c.trace = continueTrace(ctx, c.trace)
		return next(ctx, c)
	}
}

// withDeadline ends the call's context when its time is up.
func withDeadline(next Handler) Handler {
	return func(ctx context.Context, c *Call) (any, error) {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		return next(ctx, c)
	}
}

// recovered turns a panic into an error that names an incident (see
// panicked): one bad call or event never takes the instance down.
func (in *instance) recovered(next Handler) Handler {
	return func(ctx context.Context, c *Call) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				resp, err = nil, in.panicked(ctx, p, c)
			}
		}()
		return next(ctx, c)
	}
}

// panicked logs a recovered panic as an incident (see incident), with its
// value and its stack. Call it in the deferred function that recovered.
func (in *instance) panicked(ctx context.Context, p any, c *Call) error {
	err := in.incident(ctx, c, "handler panicked", fmt.Sprint(p), "panic", p, "stack", string(debug.Stack()))
	if c.Event != nil {
		return fmt.Errorf("handler of %q: %w", c.Name, err)
	}
	return err
}

// incident logs a failure nobody planned for (a panic, a plain error from
// a method) at error level, with a new incident id and what args say, and
// returns an Internal error that names the incident and nothing else. The
// caller learns that something broke and which log line says what; no
// caller learns the service's insides (an address, a password in a
// connection string) from it. Only with Config.ShowErrors, for
// development, does the answer carry detail, the failure's text, too.
func (in *instance) incident(ctx context.Context, c *Call, msg, detail string, args ...any) *Error {
	id := newID()
	in.logger.ErrorContext(ctx, msg, append(append(c.logArgs(), "incident", id), args...)...)
	if in.cfg.ShowErrors {
		return Errorf(Internal, "an unexpected failure, incident %s: %s", id, detail)
	}
	return Errorf(Internal, "an unexpected failure, incident %s: the log of %s has the details", id, in.record.ID)
}

// logArgs says in a log line which call this is.
func (c *Call) logArgs() []any {
	if c.Event != nil {
		return []any{"event", c.Event.Type, "id", c.Event.ID}
	}
	return []any{"method", c.Name}
}
