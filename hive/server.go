package hive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
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

// envelope is the body of a failed call.
type envelope struct {
	Error *Error `json:"error"`
}

// serveHTTP answers one RPC. Whatever the input, it answers with a response
// or an error envelope, and never takes the instance down.
func (s *Service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	in := s.running // no lock: set before the server started, never changed after
	start := time.Now()
	name := strings.TrimPrefix(r.URL.Path, rpcPath)

	ctx := r.Context()
	if id := r.Header.Get(traceHeader); id != "" {
		ctx = WithTraceID(ctx, id)
	}
	ctx, trace := ensureTrace(ctx) // a call from curl starts a trace of its own
	w.Header().Set(traceHeader, trace)

	timeout := in.cfg.CallTimeout
	if h := r.Header.Get(timeoutHeader); h != "" {
		if d, err := time.ParseDuration(h); err == nil && d > 0 {
			timeout = d
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	s.stats.begin()
	resp, err := s.dispatch(ctx, w, r, name)
	s.stats.end(time.Since(start), err != nil)

	if err != nil {
		e := asError(err)
		level := logLevel(e.Code)
		switch {
		case errors.As(err, new(*Error)):
			// The handler chose the code: keep it, even if the handler
			// failed because its deadline passed.
		case errors.Is(err, context.DeadlineExceeded):
			e = Errorf(Timeout, "%s.%s did not finish within %v", s.name, name, timeout)
			level = logLevel(Timeout)
		case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
			// Nobody reads this answer; it is no bug of ours either.
			e = Errorf(Unavailable, "the caller went away before %s.%s finished", s.name, name)
			level = slog.LevelInfo
		}
		in.logger.Log(ctx, level, "call failed", "method", name, "code", e.Code, "error", e.Message, "took", time.Since(start))
		writeJSON(w, e.Code.httpStatus(), envelope{Error: e})
		return
	}
	in.logger.DebugContext(ctx, "call", "method", name, "took", time.Since(start))
	body, err := json.Marshal(resp)
	if err != nil {
		e := Errorf(Internal, "%s.%s: cannot encode the response as JSON: %v", s.name, name, err)
		writeJSON(w, e.Code.httpStatus(), envelope{Error: e})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// dispatch reads the request and runs the method, turning a panic into an
// Internal error.
func (s *Service) dispatch(ctx context.Context, w http.ResponseWriter, r *http.Request, name string) (resp any, err error) {
	if !strings.HasPrefix(r.URL.Path, rpcPath) {
		return nil, Errorf(NotFound, "there is nothing at %s: methods are under %s, for example %sping", r.URL.Path, rpcPath, rpcPath)
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, Errorf(BadRequest, "use POST (or GET without a body) to call a method, not %s", r.Method)
	}
	call, ok := s.lookup(name)
	if !ok {
		return nil, Errorf(NotFound, "service %s has no method %q; it has %s",
			s.name, name, strings.Join(append(s.methodNames(), builtinNames...), ", "))
	}
	limit := s.running.cfg.MaxBodyBytes
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return nil, Errorf(BadRequest, "the request body is larger than the limit of %d bytes", limit)
		}
		return nil, Errorf(BadRequest, "cannot read the request body: %v", err)
	}

	defer func() {
		if p := recover(); p != nil {
			s.running.logger.ErrorContext(ctx, "handler panicked", "method", name, "panic", p, "stack", string(debug.Stack()))
			resp, err = nil, Errorf(Internal, "%s.%s panicked: %v", s.name, name, p)
		}
	}()
	return call(ctx, body)
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
	snippet := strings.TrimSpace(string(body))
	if len(snippet) > 200 {
		snippet = snippet[:200] + "..."
	}
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
