package protocol_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// section returns the text of PROTOCOL.md under the heading (without its
// #s), up to the next heading of the same level or higher. "Events >
// Layout" is the heading Layout within the section Events.
func section(t *testing.T, heading string) string {
	t.Helper()
	text := readDoc(t)
	for _, h := range strings.Split(heading, " > ") {
		m := regexp.MustCompile(`(?m)^(#+) ` + regexp.QuoteMeta(h) + `\n`).FindStringSubmatchIndex(text)
		require.NotNil(t, m, "PROTOCOL.md has no heading %q", heading)
		level := m[3] - m[2]
		text = text[m[1]:]
		if end := regexp.MustCompile(`(?m)^#{1,` + strconv.Itoa(level) + `} `).FindStringIndex(text); end != nil {
			text = text[:end[0]]
		}
	}
	return text
}

// docSays asserts that the section of PROTOCOL.md under heading says what
// pattern matches (a regular expression; runs of spaces and line breaks in
// the text count as one space).
func docSays(t *testing.T, heading, pattern string) {
	t.Helper()
	text := strings.Join(strings.Fields(section(t, heading)), " ")
	assert.Regexp(t, pattern, text, "PROTOCOL.md, %s, must say this", heading)
}

// dish is a request with one field: a caller that misspells it sends an
// unknown field.
type dish struct {
	ID int `json:"id"`
}

func startMenu(t *testing.T) *hive.Service {
	n := hivetest.NewNetwork(t)
	svc := hive.New("menu")
	hive.Handle(svc, "get", func(ctx context.Context, d dish) (dish, error) { return d, nil })
	return n.Start(svc)
}

// Issue 23, item 7: fields a method does not know are ignored, so that a
// rolling deploy works; PROTOCOL.md says so, and what a misspelt field
// means.
func TestUnknownRequestFieldsAreIgnored(t *testing.T) {
	docSays(t, "The request", "Fields the method does not know are \\*\\*ignored\\*\\*")
	svc := startMenu(t)
	res, body := post(t, svc.Endpoint(), "get", `{"id": 7, "colour": "blue"}`, http.Header{})
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.JSONEq(t, `{"id": 7}`, body)
	res, body = post(t, svc.Endpoint(), "get", `{"dish": 7}`, http.Header{})
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.JSONEq(t, `{"id": 0}`, body, "a misspelt field is a missing one")
}

// Issue 23, item 8: a body over 1 MiB is bad_request, status 400, for a
// built-in too.
func TestOversizeBodyIsBadRequest(t *testing.T) {
	docSays(t, "The request", "a larger body is `bad_request` \\(status 400\\), built-ins included")
	svc := startMenu(t)
	big := `{"id": 1, "pad": "` + strings.Repeat("x", 1<<20) + `"}`
	for _, method := range []string{"get", "ping"} {
		res, body := post(t, svc.Endpoint(), method, big, http.Header{})
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, "%s: %s", method, body)
		assert.Contains(t, body, `"code":"bad_request"`, method)
		assertAnswerHeaders(t, res, "menu")
	}
}

// Issue 23, item 9: GET is the same call as POST: its body, if any, is
// the request.
func TestGetTakesABodyAsTheRequest(t *testing.T) {
	docSays(t, "The request", "`GET` is the same call: its body, if it has one, is the request")
	svc := startMenu(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+svc.Endpoint()+"/rpc/get", strings.NewReader(`{"id": 3}`))
	require.NoError(t, err)
	res, body := do(t, req)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.JSONEq(t, `{"id": 3}`, body)
}

// Issue 23, item 14: every header value of the protocol has an ASCII
// form, which a writer sends (Node.js reads header bytes as Latin-1); a
// reader takes Go's micro signs too.
func TestHeaderValuesAreASCII(t *testing.T) {
	for _, marker := range []string{"Request headers, all optional:", "Every answer, success or failure, carries:"} {
		names, syntax := tableAfter(t, marker)
		require.NotEmpty(t, names, marker)
		for i, s := range syntax {
			for _, r := range s {
				assert.True(t, r < unicode.MaxASCII, "PROTOCOL.md: the syntax of %s has %q, which is not ASCII", names[i], r)
			}
		}
	}
	svc := startMenu(t)
	for _, timeout := range []string{"1500000us", "1500000\u00b5s", "1500000\u03bcs", "1500ms"} {
		res, body := post(t, svc.Endpoint(), "get", `{"id": 1}`, http.Header{"Hive-Timeout": {timeout}})
		assert.Equal(t, http.StatusOK, res.StatusCode, "Hive-Timeout %q: %s", timeout, body)
	}
}

// Issue 23, item 15: the window of status's percentiles, and the unit of
// an event's timestamp, are stated.
func TestStatusAndTimestampUnitsAreStated(t *testing.T) {
	docSays(t, "Built-in methods", "percentile of the latest "+strconv.Itoa(hive.LatencyWindow)+" calls")
	docSays(t, "Built-in methods", "index ⌊n·p/100⌋")
	docSays(t, "Publishing", "in whole seconds since 1970 \\(the fraction cut off, not rounded")
}

// Issue 23, item 16: a method whose emit found no subscriber answers
// whatever it chooses; the error as it is, is internal.
func TestEmitWithoutSubscriberIsTheMethodsCall(t *testing.T) {
	docSays(t, "Publishing", "There is no code of its own for it")
	n := hivetest.NewNetwork(t)
	svc := hive.New("order")
	hive.Handle(svc, "place", func(ctx context.Context, _ json.RawMessage) (struct{}, error) {
		return struct{}{}, svc.Emit(ctx, "order.placed", map[string]int{"dish": 1})
	})
	n.Start(svc)
	res, body := post(t, svc.Endpoint(), "place", `{}`, http.Header{})
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode, body)
}

// Issue 23, item 10: inspect's examples show the shape of list and map
// elements, and of the body of the events a service takes.
func TestInspectShowsTheShapeOfElements(t *testing.T) {
	type item struct {
		Dish     int `json:"dish"`
		Quantity int `json:"quantity"`
	}
	type place struct {
		Items []item           `json:"items"`
		Notes map[string]*item `json:"notes"`
		When  time.Time        `json:"when"`
		Extra json.RawMessage  `json:"extra"`
	}
	type placed struct {
		OrderID string `json:"order_id"`
		Items   []item `json:"items"`
	}
	n := hivetest.NewNetwork(t)
	svc := hive.New("order")
	hive.Handle(svc, "place", func(ctx context.Context, p place) ([]placed, error) { return nil, nil })
	hive.On(svc, "order.placed", func(ctx context.Context, e hive.Event[placed]) error { return nil })
	n.Start(svc)

	var info hive.Inspection
	require.NoError(t, n.Call(t.Context(), "order.inspect", nil, &info))
	m := info.Methods[0]
	require.Equal(t, "place", m.Name)
	assert.JSONEq(t, `{"items": [{"dish": 0, "quantity": 0}], "notes": {"": {"dish": 0, "quantity": 0}},
		"when": "0001-01-01T00:00:00Z", "extra": null}`, string(m.Request))
	assert.JSONEq(t, `[{"order_id": "", "items": [{"dish": 0, "quantity": 0}]}]`, string(m.Response))
	require.Len(t, info.Events, 1)
	assert.JSONEq(t, `{"order_id": "", "items": [{"dish": 0, "quantity": 0}]}`, string(info.Events[0].Body))
}
