package hive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
)

// A trace id names one piece of work as it travels through services: the
// RPC client sends it along with every call, Emit puts it into every event,
// and the logger of every service on the way writes it into its log lines.
// Searching the logs of all services for one trace id tells the whole story
// of one request.

type traceKey struct{}

// WithTraceID returns a copy of ctx that carries the trace id.
func WithTraceID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceKey{}, id)
}

// TraceID returns the trace id ctx carries, or "" if it carries none.
func TraceID(ctx context.Context) string {
	id, _ := ctx.Value(traceKey{}).(string)
	return id
}

// ensureTrace returns ctx with a trace id, starting a new trace if ctx has
// none.
func ensureTrace(ctx context.Context) (context.Context, string) {
	if id := TraceID(ctx); id != "" {
		return ctx, id
	}
	id := newID()
	return WithTraceID(ctx, id), id
}

// continueTrace returns ctx carrying the trace id that came with a call or
// an event, if it is one: at most maxTraceID characters, all of them
// letters, digits, '.', '_' or '-'. Anything else (nothing, from curl; a
// huge or strange value, from a broken or hostile caller) starts a new
// trace instead, for a trace id goes into every log line on its way.
func continueTrace(ctx context.Context, id string) (context.Context, string) {
	if !validTraceID(id) {
		id = newID()
	}
	return WithTraceID(ctx, id), id
}

// maxTraceID is the longest trace id a service continues: room for a UUID,
// or for the W3C traceparent's 32 hex digits with a prefix.
const maxTraceID = 64

func validTraceID(id string) bool {
	if id == "" || len(id) > maxTraceID {
		return false
	}
	for _, c := range []byte(id) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// newID returns 16 random hex digits: unique enough for trace, event and
// instance ids.
func newID() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails: see crypto/rand.Read
	return hex.EncodeToString(b)
}

// traceHandler adds the trace_id of the context to every log record.
type traceHandler struct{ slog.Handler }

// LogHandler wraps h so that every record logged with a context carrying a
// trace id gets a trace_id attribute. hive wraps the logger of every
// service with it.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(traceHandler); ok {
		return h
	}
	return traceHandler{h}
}

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := TraceID(ctx); id != "" {
		r.AddAttrs(slog.String("trace_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
