package protocol_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// errorBody is the error envelope as hive writes it (hive keeps its own
// type unexported).
type errorBody struct {
	Error *hive.Error `json:"error"`
}

// The six codes of hive wire protocol 1.
var codes = []hive.Code{hive.BadRequest, hive.NotFound, hive.Conflict, hive.Unavailable, hive.Timeout, hive.Internal}

func TestExamplesAreAcceptedByHive(t *testing.T) {
	t.Run("registry-record", func(t *testing.T) {
		var inst registry.Instance
		decodeStrict(t, example(t, "registry-record"), &inst)
		assert.NoError(t, inst.Validate())
		assert.False(t, inst.Started.IsZero())
	})
	t.Run("error", func(t *testing.T) {
		var env errorBody
		decodeStrict(t, example(t, "error"), &env)
		require.NotNil(t, env.Error)
		assert.Contains(t, codes, env.Error.Code)
	})
	t.Run("event", func(t *testing.T) {
		var e events.Event
		decodeStrict(t, example(t, "event"), &e)
		assert.NotEmpty(t, e.Type)
		assert.False(t, e.Time.IsZero())
	})
	t.Run("ping", func(t *testing.T) { decodeStrict(t, example(t, "ping"), new(hive.Pong)) })
	t.Run("status", func(t *testing.T) { decodeStrict(t, example(t, "status"), new(hive.Status)) })
	t.Run("inspect", func(t *testing.T) { decodeStrict(t, example(t, "inspect"), new(hive.Inspection)) })
}

func TestExamplesMatchTheSchemas(t *testing.T) {
	for name, file := range map[string]string{
		"registry-record": "registry-record.schema.json",
		"error":           "error.schema.json",
		"event":           "event.schema.json",
	} {
		t.Run(name, func(t *testing.T) {
			assert.NoError(t, validate(t, schema(t, file), example(t, name)))
		})
	}
}

// The field tables of PROTOCOL.md, the schemas, hive's types and the
// examples (which show every field) list the same fields.
func TestFieldsAgree(t *testing.T) {
	record, _ := tableAfter(t, "<!-- example: registry-record -->")
	sameFields(t, "registry record", map[string][]string{
		"PROTOCOL.md's table":         record,
		"PROTOCOL.md's example":       keys(t, example(t, "registry-record")),
		"registry-record.schema.json": schemaFields(t, "registry-record.schema.json"),
		"registry.Instance":           jsonFields(registry.Instance{}),
	})
	event, _ := tableAfter(t, "<!-- example: event -->")
	sameFields(t, "event envelope", map[string][]string{
		"PROTOCOL.md's table":   event,
		"PROTOCOL.md's example": keys(t, example(t, "event")),
		"event.schema.json":     schemaFields(t, "event.schema.json"),
		"events.Event":          jsonFields(events.Event{}),
	})
	var env map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(example(t, "error")), &env))
	sameFields(t, "error envelope", map[string][]string{
		"PROTOCOL.md's example": keys(t, string(env["error"])),
		"hive.Error":            jsonFields(hive.Error{}),
	})
	sameFields(t, "error envelope, outside", map[string][]string{
		"PROTOCOL.md's example": keys(t, example(t, "error")),
		"error.schema.json":     schemaFields(t, "error.schema.json"),
	})
	sameFields(t, "ping", map[string][]string{
		"PROTOCOL.md's example": keys(t, example(t, "ping")),
		"hive.Pong":             jsonFields(hive.Pong{}),
	})
	sameFields(t, "status", map[string][]string{
		"PROTOCOL.md's example": keys(t, example(t, "status")),
		"hive.Status":           jsonFields(hive.Status{}),
	})
	var inspection struct {
		Methods []json.RawMessage `json:"methods"`
		Events  []json.RawMessage `json:"events"`
	}
	require.NoError(t, json.Unmarshal([]byte(example(t, "inspect")), &inspection))
	sameFields(t, "inspect", map[string][]string{
		"PROTOCOL.md's example": keys(t, example(t, "inspect")),
		"hive.Inspection":       jsonFields(hive.Inspection{}),
	})
	sameFields(t, "inspect, a method", map[string][]string{
		"PROTOCOL.md's example": allKeys(t, inspection.Methods),
		"hive.MethodInfo":       jsonFields(hive.MethodInfo{}),
	})
	sameFields(t, "inspect, an event", map[string][]string{
		"PROTOCOL.md's example": allKeys(t, inspection.Events),
		"hive.EventHandlerInfo": jsonFields(hive.EventHandlerInfo{}),
	})
}

// allKeys returns the keys that any of the objects has.
func allKeys(t *testing.T, objects []json.RawMessage) []string {
	t.Helper()
	seen := make(map[string]bool)
	for _, o := range objects {
		for _, k := range keys(t, string(o)) {
			seen[k] = true
		}
	}
	return sorted(mapKeys(seen))
}

// A time without a time zone offset, as Python's naive isoformat() writes
// it, is no time in this protocol: neither hive nor the schemas take it.
func TestTimeWithoutOffsetIsRefused(t *testing.T) {
	const naive = `"2026-12-01T19:30:00.123456"`
	record := strings.Replace(example(t, "registry-record"), `"2026-12-01T19:30:00.123456789Z"`, naive, 1)
	require.NotEqual(t, example(t, "registry-record"), record, "the example's started time has changed: change this test too")
	assert.Error(t, json.Unmarshal([]byte(record), new(registry.Instance)), "hive must not decode a record whose time has no offset")
	assert.Error(t, validate(t, schema(t, "registry-record.schema.json"), record))

	event := strings.Replace(example(t, "event"), `"2026-12-01T19:30:00.123456789Z"`, naive, 1)
	require.NotEqual(t, example(t, "event"), event, "the example's time has changed: change this test too")
	assert.Error(t, json.Unmarshal([]byte(event), new(events.Event)), "hive must not decode an event whose time has no offset")
	assert.Error(t, validate(t, schema(t, "event.schema.json"), event))
}

// The code table of PROTOCOL.md lists the six codes with the status a real
// instance answers each with, and every failure carries the documented
// headers and an envelope that the schema accepts.
func TestErrorCodesAsDocumented(t *testing.T) {
	names, statuses := tableAfter(t, "<!-- example: error -->")
	var documented []hive.Code
	for _, n := range names {
		documented = append(documented, hive.Code(n))
	}
	require.ElementsMatch(t, codes, documented, "PROTOCOL.md's code table must list hive's codes")
	var enum struct {
		Properties struct {
			Error struct {
				Properties struct {
					Code struct {
						Enum []hive.Code `json:"enum"`
					} `json:"code"`
				} `json:"properties"`
			} `json:"error"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, "error.schema.json"), &enum))
	require.ElementsMatch(t, codes, enum.Properties.Error.Properties.Code.Enum, "error.schema.json must list hive's codes")

	n := hivetest.NewNetwork(t)
	svc := hive.New("fails")
	hive.Handle(svc, "fail", func(ctx context.Context, code hive.Code) (struct{}, error) {
		return struct{}{}, hive.Errorf(code, "failed as asked")
	})
	n.Start(svc)
	sch := schema(t, "error.schema.json")
	for i, code := range documented {
		t.Run(string(code), func(t *testing.T) {
			res, body := post(t, svc.Endpoint(), "fail", `"`+string(code)+`"`, http.Header{"Hive-Trace-Id": {"trace-1.a_B"}})
			assert.Equal(t, statuses[i], strconv.Itoa(res.StatusCode), "the status PROTOCOL.md gives %s", code)
			assertAnswerHeaders(t, res, "fails")
			assert.Equal(t, "trace-1.a_B", res.Header.Get("Hive-Trace-Id"), "the answer must carry the caller's trace id")
			assert.NoError(t, validate(t, sch, body))
			assert.JSONEq(t, `{"error":{"code":"`+string(code)+`","message":"failed as asked"}}`, body)
		})
	}
}

// The built-ins answer with exactly the fields of PROTOCOL.md's examples.
func TestBuiltinsAsDocumented(t *testing.T) {
	n := hivetest.NewNetwork(t)
	svc := hive.New("menu")
	svc.SetVersion("1.4.0")
	type dish struct {
		ID int `json:"id"`
	}
	hive.Handle(svc, "get", func(ctx context.Context, d dish) (dish, error) { return d, nil }, hive.Idempotent())
	hive.On(svc, "menu.changed", func(ctx context.Context, e hive.Event[dish]) error { return nil }, hive.Broadcast())
	n.Start(svc)
	// A call to a service that is not there counts in calls_out too.
	require.Error(t, svc.Call(context.Background(), "stock.get", nil, nil))

	for _, name := range []string{"ping", "status", "inspect"} {
		t.Run(name, func(t *testing.T) {
			res, body := get(t, svc.Endpoint(), name)
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			assertAnswerHeaders(t, res, "menu")
			assert.NotEmpty(t, res.Header.Get("Hive-Trace-Id"), "a call without a trace id gets a new one")
			assert.Equal(t, keys(t, example(t, name)), keys(t, body), "the fields of %s's answer and of PROTOCOL.md's example differ", name)
		})
	}
	t.Run("inspect, nested", func(t *testing.T) {
		_, body := get(t, svc.Endpoint(), "inspect")
		var got, doc struct {
			Methods []json.RawMessage `json:"methods"`
			Events  []json.RawMessage `json:"events"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		require.NoError(t, json.Unmarshal([]byte(example(t, "inspect")), &doc))
		assert.Equal(t, allKeys(t, doc.Methods), allKeys(t, got.Methods))
		assert.Equal(t, allKeys(t, doc.Events), allKeys(t, got.Events))
		var names []string
		for _, m := range got.Methods {
			var info hive.MethodInfo
			require.NoError(t, json.Unmarshal(m, &info))
			names = append(names, info.Name)
		}
		assert.Equal(t, []string{"get", "ping", "status", "inspect"}, names, "own methods sorted, then the built-ins")
	})
}

// The Go client sends Hive-Timeout in whole milliseconds, so that every
// peer can read it: never in Go's µs.
func TestClientSendsTimeoutInMilliseconds(t *testing.T) {
	n := hivetest.NewNetwork(t)
	got := make(chan string, 1)
	svc := hive.New("clock")
	n.Start(svc)
	// A stand-in instance that records the header: a hive handler cannot
	// see headers.
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Hive-Timeout")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	})}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second+123456*time.Nanosecond)
	defer cancel()
	inst := registry.Instance{ID: "clock-1", Service: "clock", Endpoint: ln.Addr().String()}
	require.NoError(t, n.Client().CallInstance(ctx, inst, "now", nil, nil))
	header := <-got
	d, err := time.ParseDuration(header)
	require.NoError(t, err)
	assert.Zero(t, d%time.Millisecond, "Hive-Timeout %q is not in whole milliseconds", header)
	assert.Regexp(t, `^[0-9.hms]+$`, header)
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	return data
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

func assertAnswerHeaders(t *testing.T, res *http.Response, service string) {
	t.Helper()
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	assert.Equal(t, service, res.Header.Get("Hive-Service"), "every answer names the service that gave it")
}

func post(t *testing.T, endpoint, method, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+endpoint+"/rpc/"+method, strings.NewReader(body))
	require.NoError(t, err)
	req.Header = header
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func get(t *testing.T, endpoint, method string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+endpoint+"/rpc/"+method, nil)
	require.NoError(t, err)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}
