package hive

import (
	"cmp"
	"context"
	"encoding/json"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Every instance answers three built-in methods, like lymph's: ping (are you
// alive?), status (counters), and inspect (what do you offer?). The hive CLI
// uses them; curl can too: curl 127.0.0.1:8001/rpc/status
var builtinNames = []string{"ping", "status", "inspect"}

func isBuiltin(name string) bool { return slices.Contains(builtinNames, name) }

// Pong is the answer to ping.
type Pong struct {
	Service  string `json:"service"`
	Instance string `json:"instance"`
}

// Status is the answer to status: what an instance has done since it
// started.
type Status struct {
	Service       string    `json:"service"`
	Instance      string    `json:"instance"`
	Version       string    `json:"version,omitempty"`
	Endpoint      string    `json:"endpoint"`
	Started       time.Time `json:"started"`
	Calls         int64     `json:"calls"`          // RPCs answered, built-ins included
	Errors        int64     `json:"errors"`         // RPCs answered with an error
	InFlight      int64     `json:"in_flight"`      // RPCs being answered now, those whose body is still arriving included
	EventsHandled int64     `json:"events_handled"` // events handled successfully
	EventsFailed  int64     `json:"events_failed"`  // handler runs that returned an error
	EventsEmitted int64     `json:"events_emitted"` // events published through Emit
	LatencyP50    float64   `json:"latency_p50_ms"` // over the latest RPCs that ran a method, from the request read to the answer, in milliseconds
	LatencyP99    float64   `json:"latency_p99_ms"`
	Connections   int       `json:"connections"` // connections open now, this one included: at most Config.MaxConns
	Goroutines    int       `json:"goroutines"`  // goroutines in the process now: one that only grows is a leak
	// CallsOut counts the calls the instance made to other services
	// (Service.Call), by the service called: the edges between services
	// that hive web draws. Omitted while the instance has called nobody.
	CallsOut map[string]CallCount `json:"calls_out,omitempty"`
}

// CallCount counts the calls made to one service, and those that failed,
// with the 99th percentile of the latest calls' latency, from the call to
// its answer, in milliseconds.
type CallCount struct {
	Calls      int64   `json:"calls"`
	Errors     int64   `json:"errors"`
	LatencyP99 float64 `json:"latency_p99_ms"`
}

// CalleeWindow is how many of the latest calls to a service the latency of
// CallsOut covers.
const CalleeWindow = 128

// Inspection is the answer to inspect: the methods and subscriptions of a
// service, with the shapes of their JSON.
type Inspection struct {
	Service string             `json:"service"`
	Methods []MethodInfo       `json:"methods"`
	Events  []EventHandlerInfo `json:"events"`
}

// MethodInfo describes one method. Request and Response are examples of
// each type, as JSON: the zero value with one element in every list and
// map, so that the elements' shape shows.
type MethodInfo struct {
	Name         string          `json:"name"`
	Idempotent   bool            `json:"idempotent,omitempty"`
	Builtin      bool            `json:"builtin,omitempty"`
	RequestType  string          `json:"request_type"`
	Request      json.RawMessage `json:"request"`
	ResponseType string          `json:"response_type"`
	Response     json.RawMessage `json:"response"`
}

// EventHandlerInfo describes one event subscription. Body is an example of
// the body its handler takes, filled as MethodInfo's examples are.
type EventHandlerInfo struct {
	Pattern   string          `json:"pattern"`
	Broadcast bool            `json:"broadcast,omitempty"`
	BodyType  string          `json:"body_type"`
	Body      json.RawMessage `json:"body"`
}

func (s *Service) builtin(name string) (func(context.Context, []byte) (any, error), bool) {
	switch name {
	case "ping":
		return func(context.Context, []byte) (any, error) {
			r := s.record()
			return Pong{Service: r.Service, Instance: r.ID}, nil
		}, true
	case "status":
		return func(context.Context, []byte) (any, error) { return s.status(), nil }, true
	case "inspect":
		return func(context.Context, []byte) (any, error) { return s.inspect(), nil }, true
	}
	return nil, false
}

func (s *Service) status() Status {
	r := s.record()
	p50, p99 := s.stats.latencies()
	return Status{
		Service:       r.Service,
		Instance:      r.ID,
		Version:       r.Version,
		Endpoint:      r.Endpoint,
		Started:       r.Started,
		Calls:         s.stats.calls.Load(),
		Errors:        s.stats.errors.Load(),
		InFlight:      s.stats.inFlight.Load() - 1, // not counting this status call
		EventsHandled: s.stats.eventsHandled.Load(),
		EventsFailed:  s.stats.eventsFailed.Load(),
		EventsEmitted: s.stats.eventsEmitted.Load(),
		LatencyP50:    ms(p50),
		LatencyP99:    ms(p99),
		Connections:   s.connections(),
		Goroutines:    runtime.NumGoroutine(),
		CallsOut:      s.stats.callsOut(),
	}
}

// connections returns how many connections the running instance has open.
func (s *Service) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil || s.running.listener == nil {
		return 0
	}
	return s.running.listener.conns()
}

func (s *Service) inspect() Inspection {
	info := Inspection{Service: s.name, Methods: []MethodInfo{}, Events: []EventHandlerInfo{}}
	for _, name := range s.methodNames() {
		m := s.methods[name]
		info.Methods = append(info.Methods, MethodInfo{
			Name:         name,
			Idempotent:   m.idempotent,
			RequestType:  typeName(m.request),
			Request:      example(m.request),
			ResponseType: typeName(m.response),
			Response:     example(m.response),
		})
	}
	for _, name := range builtinNames {
		info.Methods = append(info.Methods, MethodInfo{Name: name, Builtin: true, Idempotent: true})
	}
	for _, sub := range s.subs {
		info.Events = append(info.Events, EventHandlerInfo{
			Pattern:   sub.pattern,
			Broadcast: sub.broadcast,
			BodyType:  typeName(sub.body),
			Body:      example(sub.body),
		})
	}
	return info
}

// example returns an example of v's type as JSON, for inspect: the zero
// value, except that every list and map holds one element and every
// pointer points to a value, each filled the same way. An example with
// empty lists would hide the shape of their elements, which is what a
// caller in another language needs to see ("items": [{"dish": 0}], not
// "items": null).
func example(v any) json.RawMessage {
	if v == nil {
		return json.RawMessage(`null`)
	}
	ex := reflect.New(reflect.TypeOf(v)).Elem()
	fill(ex, 0)
	b, err := json.Marshal(ex.Interface())
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}

// maxExampleDepth stops fill in a type that contains itself, such as a
// tree whose nodes hold a list of nodes.
const maxExampleDepth = 8

// fill gives every list, map and pointer in v one element (see example).
// A type that encodes itself (json.Marshaler: time.Time, json.RawMessage)
// keeps its zero value, which it knows how to encode.
func fill(v reflect.Value, depth int) {
	if depth > maxExampleDepth || !v.CanSet() {
		return
	}
	if v.Type().Implements(marshaler) || reflect.PointerTo(v.Type()).Implements(marshaler) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), depth+1)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		key := reflect.New(v.Type().Key()).Elem()
		elem := reflect.New(v.Type().Elem()).Elem()
		fill(elem, depth+1)
		v.Set(reflect.MakeMapWithSize(v.Type(), 1))
		v.SetMapIndex(key, elem)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	}
}

var marshaler = reflect.TypeFor[json.Marshaler]()

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// LatencyWindow is how many of the latest calls the latencies of status
// cover (PROTOCOL.md, Built-in methods).
const LatencyWindow = 512

// stats counts what an instance does. Counters are atomic, so that counting
// never makes two calls wait for each other.
type stats struct {
	calls, errors, inFlight                    atomic.Int64
	eventsHandled, eventsFailed, eventsEmitted atomic.Int64

	mu     sync.Mutex
	recent window                  // the latest call latencies
	out    map[string]*calleeStats // calls made, by the service called
}

// calleeStats count the calls made to one service.
type calleeStats struct {
	calls, errors int64
	recent        window
}

// A window is a ring of the latest size latencies; the zero window holds
// LatencyWindow of them.
type window struct {
	size   int
	recent []time.Duration
	next   int
	filled bool
}

func (w *window) add(d time.Duration) {
	if w.recent == nil {
		w.recent = make([]time.Duration, cmp.Or(w.size, LatencyWindow))
	}
	w.recent[w.next] = d
	w.next = (w.next + 1) % len(w.recent)
	w.filled = w.filled || w.next == 0
}

// latest returns a copy of the latencies in the window.
func (w *window) latest() []time.Duration {
	n := w.next
	if w.filled {
		n = len(w.recent)
	}
	return slices.Clone(w.recent[:n])
}

// percentile returns the pth percentile of sorted latencies, or 0 for
// none: of the n latencies, the one at index ⌊n·p/100⌋ (PROTOCOL.md).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[len(sorted)*p/100]
}

// maxCallees bounds the services that CallsOut counts: a method name comes
// from the program, but nothing stops a program from making them up.
const maxCallees = 64

// called counts a call made to service, which took d.
func (st *stats) called(service string, d time.Duration, failed bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.out == nil {
		st.out = map[string]*calleeStats{}
	}
	c, ok := st.out[service]
	if !ok {
		if len(st.out) >= maxCallees {
			return
		}
		c = &calleeStats{recent: window{size: CalleeWindow}}
		st.out[service] = c
	}
	c.calls++
	if failed {
		c.errors++
	}
	c.recent.add(d)
}

func (st *stats) callsOut() map[string]CallCount {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.out) == 0 {
		return nil
	}
	out := make(map[string]CallCount, len(st.out))
	for service, c := range st.out {
		sorted := c.recent.latest()
		slices.Sort(sorted)
		out[service] = CallCount{Calls: c.calls, Errors: c.errors, LatencyP99: ms(percentile(sorted, 99))}
	}
	return out
}

func (st *stats) begin() { st.inFlight.Add(1) }

func (st *stats) end(failed bool) {
	st.inFlight.Add(-1)
	st.calls.Add(1)
	if failed {
		st.errors.Add(1)
	}
}

// observe records how long a method took, from its request read to its
// answer.
func (st *stats) observe(d time.Duration) {
	st.mu.Lock()
	st.recent.add(d)
	st.mu.Unlock()
}

// latencies returns the 50th and 99th percentile of the latest calls.
func (st *stats) latencies() (p50, p99 time.Duration) {
	st.mu.Lock()
	sorted := st.recent.latest()
	st.mu.Unlock()
	slices.Sort(sorted) // outside the lock: calls need not wait for it
	return percentile(sorted, 50), percentile(sorted, 99)
}
