package hive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/internal/clip"
)

// The wire protocol, small enough for curl:
//
//	POST /rpc/<method>            body: the request as JSON
//	Hive-Timeout: 1.5s            how long the caller waits (optional)
//	Hive-Trace-Id: 3f9a1c...      the trace the call belongs to (optional)
//	Hive-Service: menu            the service the caller means to reach (optional)
//
// A success answers 200 with the response as JSON. A failure answers with
// an HTTP status that fits its code, and the error envelope:
//
//	{"error": {"code": "not_found", "message": "dish 7 does not exist"}}
const (
	rpcPath        = "/rpc/"
	timeoutHeader  = "Hive-Timeout"
	traceHeader    = "Hive-Trace-Id"
	serviceHeader  = "Hive-Service" // on a request: the service meant; on a response: the service that answered
	defaultMaxBody = 1 << 20        // 1 MiB
)

// What an instance takes from a caller, at most. Config sets the rest:
// ReadTimeout, IdleTimeout, MaxInFlight, MaxConns and MaxBodyBytes.
const (
	maxHeaderBytes   = 16 << 10        // the request line and headers together
	maxHeaderTimeout = 5 * time.Second // to send them; less if ReadTimeout is less
	maxCallTimeout   = time.Minute     // the longest Hive-Timeout an instance works for
	maxEchoed        = 64              // characters of a bad header value an answer quotes back

	defaultReadTimeout = 10 * time.Second
	defaultIdleTimeout = time.Minute // longer than a Client keeps an idle connection (30s), so that the client closes it first
	defaultMaxInFlight = 256
	defaultMaxConns    = 512 // room for MaxInFlight calls and as many idle connections, well within a limit of 1,024 file descriptors
)

// envelope is the body of a failed call.
type envelope struct {
	Error *Error `json:"error"`
}

// rpcServer answers the RPCs of one running instance, and holds every
// caller to the limits of the instance's Config, so that no caller, slow,
// idle or many, can hold the instance open.
type rpcServer struct {
	svc      *Service
	in       *instance
	slots    chan struct{}   // one taken per request being answered: MaxInFlight of them
	draining context.Context // done once the server begins to shut down
	pipeline Handler         // what every request passes through: see rpcPipeline
}

// newServer returns the HTTP server of a running instance. Serve it on
// envelopeListener{ln, s.name}, so that net/http's own answers become
// error envelopes too.
func (s *Service) newServer(in *instance) *http.Server {
	draining, drain := context.WithCancel(context.Background())
	rs := &rpcServer{svc: s, in: in, slots: make(chan struct{}, in.cfg.MaxInFlight), draining: draining}
	rs.pipeline = rs.rpcPipeline()
	srv := &http.Server{
		// rpcServer answers every request itself. A ServeMux would answer
		// some on its own: a redirect for /rpc/. or /rpc//x, a plain-text
		// 404 for other paths; and every answer must be a response or an
		// envelope.
		Handler:           rs,
		ReadHeaderTimeout: min(maxHeaderTimeout, in.cfg.ReadTimeout),
		ReadTimeout:       in.cfg.ReadTimeout, // the whole request, body included
		IdleTimeout:       in.cfg.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes - 4<<10, // net/http reads 4 KiB more than it is told
		ErrorLog:          slog.NewLogLogger(in.logger.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for the requests in flight. One whose body is still
	// arriving would hold it up until ReadTimeout: readBody cuts it.
	srv.RegisterOnShutdown(drain)
	return srv
}

// ServeHTTP answers one RPC. Whatever the input, it answers with a response
// or an error envelope, and never takes the instance down.
func (rs *rpcServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &Call{Name: strings.TrimPrefix(r.URL.Path, rpcPath), Header: r.Header, trace: r.Header.Get(traceHeader), w: w, r: r}
	resp, err := rs.pipeline(r.Context(), c)
	w.Header().Set(serviceHeader, rs.svc.name)
	w.Header().Set(traceHeader, c.trace) // a call from curl started a trace of its own

	// A caller that stops reading must not hold the instance either.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(rs.in.cfg.ReadTimeout))
	if err != nil {
		e := asError(err)
		writeJSON(w, e.Code.httpStatus(), envelope{Error: e})
		return
	}
	body, err := json.Marshal(resp)
	if err != nil {
		e := rs.in.incident(WithTraceID(r.Context(), c.trace), c, "cannot encode the response as JSON", err.Error(), "error", err)
		writeJSON(w, e.Code.httpStatus(), envelope{Error: e})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// loggedCall logs how the call ended: a failure at a level that says whose
// fault it was, a success only when debugging.
func (in *instance) loggedCall(next Handler) Handler {
	return func(ctx context.Context, c *Call) (any, error) {
		start := time.Now()
		resp, err := next(ctx, c)
		if err != nil {
			e := asError(err)
			level := logLevel(e.Code)
			if errors.Is(e, context.Canceled) {
				level = slog.LevelInfo // the caller went away: nobody reads this answer, and it is no bug of ours
			}
			in.logger.Log(ctx, level, "call failed", "method", c.Name, "code", e.Code, "error", e.Message, "took", time.Since(start))
			return resp, err
		}
		in.logger.DebugContext(ctx, "call", "method", c.Name, "took", time.Since(start))
		return resp, nil
	}
}

// countedCall counts the call for status: in flight, then done or failed.
func (s *Service) countedCall(next Handler) Handler {
	return func(ctx context.Context, c *Call) (resp any, err error) {
		s.stats.begin()
		defer func() { s.stats.end(err != nil) }()
		return next(ctx, c)
	}
}

// admitted checks the request, reads it, takes one of the MaxInFlight
// slots, and only then hands the call on. The checks that need no body
// come first, so that a request refused costs next to nothing.
func (rs *rpcServer) admitted(next Handler) Handler {
	return func(ctx context.Context, c *Call) (any, error) {
		s, in, r := rs.svc, rs.in, c.r
		if want := r.Header.Get(serviceHeader); want != "" && want != s.name {
			// A stale registry record led the caller here: the address now
			// belongs to another service. Nothing was done; the right
			// service may be elsewhere.
			return nil, Errorf(Unavailable, "this is an instance of %s, not of %.*q", s.name, maxEchoed, want)
		}
		timeout, err := callTimeout(r.Header.Get(timeoutHeader), in.cfg.ServeTimeout)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(r.URL.Path, rpcPath) {
			return nil, Errorf(NotFound, "there is nothing at %s: methods are under %s, for example %sping", r.URL.Path, rpcPath, rpcPath)
		}
		if r.Method != http.MethodPost && r.Method != http.MethodGet {
			return nil, Errorf(BadRequest, "use POST (or GET) to call a method, not %s", r.Method)
		}
		method, ok := s.lookup(c.Name)
		if !ok {
			return nil, Errorf(NotFound, "service %s has no method %q; it has %s",
				s.name, c.Name, strings.Join(append(s.methodNames(), builtinNames...), ", "))
		}
		body, err := rs.readBody(c.w, r)
		if err != nil {
			return nil, err
		}
		// A slot is taken only now that the request is here whole: a
		// caller slow to send its body holds its connection, never one
		// of the slots that others' calls need.
		select {
		case rs.slots <- struct{}{}:
			defer func() { <-rs.slots }()
		default:
			// Refused at once rather than queued: the caller can try another
			// instance while this one is busy.
			return nil, Errorf(Unavailable, "%s is answering %d requests already, its limit; try another instance", in.record.ID, cap(rs.slots))
		}
		c.timeout = timeout
		c.work = func(ctx context.Context) (any, error) { return method(ctx, body) }
		return next(ctx, c)
	}
}

// timed records how long the method took, for the latency figures of
// status. They start once the request is read: a caller slow to send
// makes its own call slow, not the service.
func (s *Service) timed(next Handler) Handler {
	return func(ctx context.Context, c *Call) (any, error) {
		start := time.Now()
		defer func() { s.stats.observe(time.Since(start)) }()
		return next(ctx, c)
	}
}

// answeredAs gives every failed call the code that says what happened: a
// call that failed for lack of time Timeout when its deadline passed,
// Unavailable when its caller went away or the event bus could not store
// an event (events.ErrNotStored). A code the method (or a
// middleware) chose itself stays. Any other error is an incident: the
// caller gets Internal and an incident id, the log the error's text, which
// may hold what no caller should read (an address, a password in a
// connection string).
func (rs *rpcServer) answeredAs(next Handler) Handler {
	s, in := rs.svc, rs.in
	return func(ctx context.Context, c *Call) (any, error) {
		resp, err := next(ctx, c)
		switch {
		case err == nil, errors.As(err, new(*Error)):
			// The handler chose the code: keep it, even if the handler
			// failed because its deadline passed.
			return resp, err
		case errors.Is(err, context.DeadlineExceeded):
			return nil, &Error{Code: Timeout, Message: fmt.Sprintf("%s.%s did not finish within %v", s.name, c.Name, c.timeout), cause: err}
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			return nil, &Error{Code: Unavailable, Message: fmt.Sprintf("the caller went away before %s.%s finished", s.name, c.Name), cause: err}
		case errors.Is(err, events.ErrNotStored):
			// The broker, not the method, failed, and a later try may
			// pass; the text, which may name the broker, goes to the log.
			in.logger.WarnContext(ctx, "method failed: an event could not be stored", "method", c.Name, "error", err)
			return nil, &Error{Code: Unavailable, Message: fmt.Sprintf("%s.%s could not hand an event to the event bus; try again", s.name, c.Name), cause: err}
		}
		return nil, in.incident(ctx, c, "method failed", err.Error(), "error", err)
	}
}

// callTimeout reads the Hive-Timeout header: how long the caller waits for
// the answer. No caller gets more than maxCallTimeout of an instance's
// work; one that sends no header gets fallback.
func callTimeout(header string, fallback time.Duration) (time.Duration, error) {
	if header == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(header)
	switch {
	case err != nil:
		return 0, Errorf(BadRequest, "the %s header must be a duration, such as 1.5s or 300ms, not %.*q", timeoutHeader, maxEchoed, header)
	case d <= 0:
		// The caller has given up already: nobody waits for the work.
		return 0, Errorf(Timeout, "the caller's deadline passed before the call arrived (%s: %s)", timeoutHeader, header)
	}
	return min(d, maxCallTimeout), nil
}

// readBody reads the request body: at most MaxBodyBytes of it, within
// the server's ReadTimeout. When the server begins to shut down, it cuts a
// body still arriving, so that a stalled caller cannot hold up a stop.
func (rs *rpcServer) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	cfg := rs.in.cfg
	rc := http.NewResponseController(w)
	cut := context.AfterFunc(rs.draining, func() { rc.SetReadDeadline(time.Now()) })
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes))
	if !cut() {
		// The cut came while the body arrived, or just as it ended: the
		// method has not run, so the caller may send it elsewhere.
		return nil, Errorf(Unavailable, "%s is stopping; try another instance", rs.in.record.ID)
	}
	switch {
	case errors.As(err, new(*http.MaxBytesError)):
		return nil, Errorf(BadRequest, "the request body is larger than the limit of %d bytes", cfg.MaxBodyBytes)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, Errorf(Timeout, "the request did not arrive within %v", cfg.ReadTimeout)
	case err != nil:
		return nil, Errorf(BadRequest, "cannot read the request body: %v", err)
	}
	return body, nil
}

// lookup finds a method by name: one of the service's own, or a built-in.
func (s *Service) lookup(name string) (func(context.Context, []byte) (any, error), bool) {
	if m, ok := s.methods[name]; ok {
		return m.call, true
	}
	return s.builtin(name)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// errorEnvelope decodes the error envelope of a failed call. A body that is
// no envelope (a proxy's error page, say) still becomes a useful *Error.
func errorEnvelope(status int, body []byte) *Error {
	var env envelope
	if err := json.Unmarshal(body, &env); err == nil && env.Error != nil && env.Error.Code != "" {
		return env.Error
	}
	snippet := clip.Text(strings.TrimSpace(string(body)), 200)
	return &Error{Code: Internal, Message: fmt.Sprintf("HTTP %d without an error envelope: %q", status, snippet)}
}

// logLevel says how loudly to log a failed call: a caller's mistake is
// worth a warning, a failure of the service itself an error.
func logLevel(c Code) slog.Level {
	switch c {
	case Internal, Timeout:
		return slog.LevelError
	default:
		return slog.LevelWarn
	}
}
