package conform

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hive-workshop/microservices-go/hive/protocol"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// The sections of PROTOCOL.md the RPC rules come from.
const (
	request  = "RPC, The request"
	answers  = "RPC, The answer"
	builtins = "RPC, Built-in methods"
)

// maxBody is the largest request body an instance must take (MaxBodyBytes).
const maxBody = 1 << 20

// traceID is the syntax of Hive-Trace-Id.
var traceID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// statusOf is the HTTP status of each code, from PROTOCOL.md's table.
var statusOf = map[string]int{
	"bad_request": 400, "not_found": 404, "conflict": 409,
	"unavailable": 503, "timeout": 504, "internal": 500,
}

// An answer is what the instance answered to one request.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// rpcChecker calls one instance.
type rpcChecker struct {
	*checker
	inst   registry.Instance
	errors *jsonschema.Schema
}

// inspection is the answer to inspect, as far as the checks need it.
type inspection struct {
	Methods []method `json:"methods"`
	Events  []struct {
		Pattern   string `json:"pattern"`
		Broadcast bool   `json:"broadcast"`
	} `json:"events"`
}

type method struct {
	Name    string `json:"name"`
	Builtin bool   `json:"builtin"`
}

// rpc checks the instance's answers, and returns what it says it offers.
func (c *checker) rpc(ctx context.Context, inst registry.Instance) (inspection, bool) {
	sch, err := protocol.Schema(protocol.ErrorSchema)
	if !c.need(answers, "compile the error schema", err) {
		return inspection{}, false
	}
	r := &rpcChecker{checker: c, inst: inst, errors: sch}
	_, err = r.call(ctx, http.MethodPost, "/rpc/ping", nil, nil)
	if !c.check(request, fmt.Sprintf("the instance answers HTTP at its endpoint %s", inst.Endpoint), err) {
		return inspection{}, false
	}

	r.builtins(ctx)
	info, ok := r.inspect(ctx)
	r.edgeCases(ctx, info)
	return info, ok
}

// call sends one request to the instance, with the header values given
// (name, value, name, value...), on a connection of its own, so that an
// instance that closes one after an oversize body spoils no other check.
// It reads the answer while it writes the request: an instance may answer
// a body over the limit before it has read it all, and close the
// connection, so a write that fails once the answer has come is no
// failure (net/http's client reports the broken pipe instead).
func (r *rpcChecker) call(ctx context.Context, method, path string, body []byte, header []string) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+r.inst.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Close = true
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", r.inst.Endpoint)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { conn.Close() })()

	written := make(chan error, 1)
	go func() { written <- req.Write(conn) }()
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		conn.Close() // ends a write still under way
		if werr := <-written; werr != nil && !errors.Is(werr, net.ErrClosed) {
			err = werr // the answer never came because the request did not go
		}
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 2*maxBody))
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return answer{status: res.StatusCode, header: res.Header, body: data}, nil
}

// expect calls the instance and checks the answer: a success if code is
// "", else a failure with that code; with the headers of every answer,
// and the trace id sent, if one was. It returns the answer's body.
func (r *rpcChecker) expect(ctx context.Context, section, rule, code, method, path string, body []byte, header ...string) ([]byte, bool) {
	a, err := r.call(ctx, method, path, body, header)
	if err == nil {
		err = r.answerIs(a, code, header)
	}
	return a.body, r.check(section, rule, err)
}

func (r *rpcChecker) answerIs(a answer, code string, header []string) error {
	var problems []string
	if code == "" && a.status != http.StatusOK {
		problems = append(problems, fmt.Sprintf("status %d, want 200 (body %.200s)", a.status, a.body))
	}
	if code != "" {
		if a.status != statusOf[code] {
			problems = append(problems, fmt.Sprintf("status %d, want %d for %s", a.status, statusOf[code], code))
		}
		var env struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if err := protocol.Validate(r.errors, a.body); err != nil {
			problems = append(problems, fmt.Sprintf("the body %.200q is no error envelope: %v", a.body, err))
		} else if json.Unmarshal(a.body, &env); env.Error.Code != code {
			problems = append(problems, fmt.Sprintf("code %q, want %q", env.Error.Code, code))
		}
	}
	problems = append(problems, r.headersOf(a, header)...)
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// headersOf checks the headers every answer carries (PROTOCOL.md, The
// answer), and returns what is wrong with them.
func (r *rpcChecker) headersOf(a answer, sent []string) []string {
	var problems []string
	if mt, _, err := mime.ParseMediaType(a.header.Get("Content-Type")); err != nil || mt != "application/json" {
		problems = append(problems, fmt.Sprintf("Content-Type %q, want application/json", a.header.Get("Content-Type")))
	}
	if got := a.header.Get("Hive-Service"); got != r.t.Service {
		problems = append(problems, fmt.Sprintf("Hive-Service %q, want %q", got, r.t.Service))
	}
	trace := a.header.Get("Hive-Trace-Id")
	i := slices.Index(sent, "Hive-Trace-Id")
	switch {
	case !traceID.MatchString(trace):
		problems = append(problems, fmt.Sprintf("Hive-Trace-Id %q is no trace id", trace))
	case i >= 0 && traceID.MatchString(sent[i+1]) && trace != sent[i+1]:
		problems = append(problems, fmt.Sprintf("Hive-Trace-Id %q, want the caller's, %q", trace, sent[i+1]))
	case i >= 0 && !traceID.MatchString(sent[i+1]) && trace == sent[i+1]:
		problems = append(problems, fmt.Sprintf("Hive-Trace-Id %q: an invalid trace id must start a new trace", trace))
	}
	return problems
}

// builtins checks ping and status, and the trace ids of their answers.
func (r *rpcChecker) builtins(ctx context.Context) {
	body, ok := r.expect(ctx, builtins, "ping answers 200, with the headers of every answer", "", http.MethodPost, "/rpc/ping", nil)
	if ok {
		r.check(builtins, "ping says which service and instance answered", fields(body, map[string]string{
			"service": "=" + r.t.Service, "instance": "=" + r.inst.ID,
		}))
	}
	r.expect(ctx, request, "an answer carries the caller's trace id", "", http.MethodPost, "/rpc/ping", nil, "Hive-Trace-Id", "conform.trace-1_A")
	r.expect(ctx, request, "an invalid trace id starts a new trace", "", http.MethodPost, "/rpc/ping", nil, "Hive-Trace-Id", "not a trace id!")
	r.expect(ctx, request, "GET calls a method too", "", http.MethodGet, "/rpc/ping", nil)

	body, ok = r.expect(ctx, builtins, "status answers 200", "", http.MethodPost, "/rpc/status", nil)
	if ok {
		r.check(builtins, "status has the documented fields, of their types", fields(body, map[string]string{
			"service": "=" + r.t.Service, "instance": "=" + r.inst.ID, "endpoint": "string", "started": "time",
			"calls": "number", "errors": "number", "in_flight": "number",
			"events_handled": "number", "events_failed": "number", "events_emitted": "number",
			"latency_p50_ms": "number", "latency_p99_ms": "number",
		}))
		r.check(builtins, "status's calls_out, if there, counts calls and errors by service", callsOut(body))
	}
}

// callsOut checks status's optional calls_out: an object whose every
// value has the numbers calls, errors and latency_p99_ms, no more errors
// than calls.
func callsOut(status []byte) error {
	var doc struct {
		CallsOut json.RawMessage `json:"calls_out"`
	}
	if err := json.Unmarshal(status, &doc); err != nil || doc.CallsOut == nil {
		return nil // not there: it is optional (fields says what else is wrong)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(doc.CallsOut, &out); err != nil || out == nil {
		return fmt.Errorf("calls_out is %.100s, want an object of {\"calls\": n, \"errors\": m, \"latency_p99_ms\": ms} by service", doc.CallsOut)
	}
	for service, v := range out {
		if err := fields(v, map[string]string{"calls": "number", "errors": "number", "latency_p99_ms": "number"}); err != nil {
			return fmt.Errorf("calls_out[%q]: %w", service, err)
		}
		var c struct{ Calls, Errors float64 }
		json.Unmarshal(v, &c)
		if c.Errors > c.Calls {
			return fmt.Errorf("calls_out[%q]: %v errors in %v calls", service, c.Errors, c.Calls)
		}
	}
	return nil
}

// inspect checks inspect's answer and returns it.
func (r *rpcChecker) inspect(ctx context.Context) (inspection, bool) {
	body, ok := r.expect(ctx, builtins, "inspect answers 200", "", http.MethodPost, "/rpc/inspect", nil)
	if !ok {
		return inspection{}, false
	}
	var info inspection
	err := fields(body, map[string]string{"service": "=" + r.t.Service, "methods": "array", "events": "array"})
	if err == nil {
		err = json.Unmarshal(body, &info)
	}
	if err == nil {
		err = inspectShape(body, info)
	}
	return info, r.check(builtins, "inspect lists methods (its own sorted, then ping, status, inspect) and events, with examples", err)
}

// inspectShape checks what fields cannot: each method and event has its
// fields, and the order of the methods.
func inspectShape(body []byte, info inspection) error {
	var raw struct {
		Methods []json.RawMessage `json:"methods"`
		Events  []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return err
	}
	for _, m := range raw.Methods {
		if err := fields(m, map[string]string{"name": "string", "request_type": "string", "request": "any", "response_type": "string", "response": "any"}); err != nil {
			return fmt.Errorf("method %s: %w", m, err)
		}
	}
	for _, e := range raw.Events {
		if err := fields(e, map[string]string{"pattern": "string", "body_type": "string", "body": "any"}); err != nil {
			return fmt.Errorf("event %s: %w", e, err)
		}
	}
	var own, builtin []string
	for _, m := range info.Methods {
		if m.Builtin {
			builtin = append(builtin, m.Name)
		} else if len(builtin) > 0 {
			return fmt.Errorf("method %s comes after a built-in", m.Name)
		} else {
			own = append(own, m.Name)
		}
	}
	if !slices.IsSorted(own) {
		return fmt.Errorf("its own methods %v are not sorted by name", own)
	}
	if want := []string{"ping", "status", "inspect"}; !slices.Equal(builtin, want) {
		return fmt.Errorf("built-ins %v, want %v, marked \"builtin\": true", builtin, want)
	}
	return nil
}

// edgeCases checks the answers to requests that go wrong.
func (r *rpcChecker) edgeCases(ctx context.Context, info inspection) {
	r.expect(ctx, answers, "an unknown method is not_found", "not_found", http.MethodPost, "/rpc/conform-no-such-method", []byte(`{}`))
	r.expect(ctx, answers, "a path outside /rpc/ is not_found", "not_found", http.MethodPost, "/conform/nothing", []byte(`{}`))
	r.expect(ctx, request, "a call meant for another service is unavailable", "unavailable", http.MethodPost, "/rpc/ping", nil, "Hive-Service", "conform-another-service")
	r.expect(ctx, request, "a call meant for this service is answered", "", http.MethodPost, "/rpc/ping", nil, "Hive-Service", r.t.Service)
	r.expect(ctx, request, "a malformed Hive-Timeout is bad_request", "bad_request", http.MethodPost, "/rpc/ping", nil, "Hive-Timeout", "soon")
	r.expect(ctx, request, "a zero Hive-Timeout is timeout", "timeout", http.MethodPost, "/rpc/ping", nil, "Hive-Timeout", "0")
	r.expect(ctx, request, "a negative Hive-Timeout is timeout", "timeout", http.MethodPost, "/rpc/ping", nil, "Hive-Timeout", "-1s")
	r.expect(ctx, request, "Hive-Timeout in ASCII microseconds (us) is read", "", http.MethodPost, "/rpc/ping", nil, "Hive-Timeout", "2500000us")
	r.expect(ctx, request, "a long Hive-Timeout (over 1 minute) is taken", "", http.MethodPost, "/rpc/ping", nil, "Hive-Timeout", "1h")
	r.expect(ctx, request, "an HTTP method other than POST or GET is bad_request", "bad_request", http.MethodPut, "/rpc/ping", []byte(`{}`))
	r.expect(ctx, request, "an empty body is an empty request", "", http.MethodPost, "/rpc/ping", nil)
	r.expect(ctx, request, "a body over 1 MiB is bad_request", "bad_request", http.MethodPost, "/rpc/ping", bytes.Repeat([]byte(" "), maxBody+1))

	i := slices.IndexFunc(info.Methods, func(m method) bool { return !m.Builtin })
	if i < 0 {
		r.skip(request, "a body that is not JSON is bad_request", "the service has no method of its own (the built-ins ignore their body)")
		return
	}
	r.expect(ctx, request, fmt.Sprintf("a body that is not JSON is bad_request (%s)", info.Methods[i].Name), "bad_request",
		http.MethodPost, "/rpc/"+info.Methods[i].Name, []byte(`{"conform": `))
}

// fields checks that the JSON object doc has each field of want, where
// want maps a name to what its value must be: "string", "number", "time"
// (RFC 3339 with an offset), "array" (not null), "any" (present), or
// "=text" (that string).
func fields(doc []byte, want map[string]string) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(doc, &obj); err != nil || obj == nil {
		return fmt.Errorf("%.200q is not a JSON object", doc)
	}
	var problems []string
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		kind := want[name]
		v, ok := obj[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("no %q", name))
			continue
		}
		var s string
		var n float64
		var a []json.RawMessage
		var err error
		switch {
		case kind == "any":
		case kind == "string":
			err = json.Unmarshal(v, &s)
		case kind == "number":
			err = json.Unmarshal(v, &n)
		case kind == "array":
			err = json.Unmarshal(v, &a)
			if err == nil && a == nil {
				err = errors.New("null, want a list ([] when empty)")
			}
		case kind == "time":
			var t time.Time
			err = json.Unmarshal(v, &t)
		case strings.HasPrefix(kind, "="):
			if err = json.Unmarshal(v, &s); err == nil && s != kind[1:] {
				err = fmt.Errorf("want %q", kind[1:])
			}
		}
		if err != nil || (kind != "any" && string(v) == "null") {
			problems = append(problems, fmt.Sprintf("%q is %s: %v", name, v, cmpOr(err, "want "+kind)))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func cmpOr(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}
