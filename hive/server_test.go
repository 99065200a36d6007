package hive_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// These tests talk to an instance the way a broken, slow or hostile
// client would: over raw TCP on loopback. None of them can hold an
// instance open, and every answer is an error envelope.

// patience is how long a test waits for something that should happen
// quickly: long, so that a loaded machine does not fail the test.
const patience = 30 * time.Second

// dial opens a raw connection to endpoint, which fails the test if it
// does not answer within patience.
func dial(t *testing.T, endpoint string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", endpoint, patience)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(patience))
	return c
}

// envelopeOf reads one answer from c and decodes its error envelope,
// strictly: nothing but an envelope passes.
func envelopeOf(t *testing.T, c net.Conn) (*http.Response, hive.Error) {
	t.Helper()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "no answer")
	defer res.Body.Close()
	return res, decodeEnvelope(t, res)
}

func decodeEnvelope(t *testing.T, res *http.Response) hive.Error {
	t.Helper()
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	var env struct{ Error *hive.Error }
	dec := json.NewDecoder(res.Body)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&env), "every failure must answer with a JSON error envelope")
	require.NotNil(t, env.Error, "every failure must answer with a JSON error envelope")
	return *env.Error
}

// instanceStatus returns the status of svc, as its built-in method tells it.
func instanceStatus(t *testing.T, n *hivetest.Network, svc *hive.Service) hive.Status {
	t.Helper()
	var s hive.Status
	require.NoError(t, n.Call(context.Background(), svc.Name()+".status", nil, &s))
	return s
}

// stallBody sends a request for greeter.greet whose body never ends, and
// returns once the instance is waiting for the rest of it.
func stallBody(t *testing.T, n *hivetest.Network, svc *hive.Service) net.Conn {
	t.Helper()
	c := dial(t, svc.Endpoint())
	fmt.Fprintf(c, "POST /rpc/greet HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n{\"name\":")
	require.Eventually(t, func() bool { return instanceStatus(t, n, svc).InFlight == 1 },
		patience, 10*time.Millisecond, "the instance never began to read the body")
	return c
}

func TestSlowBodyIsCutAndTheInstanceGoesOn(t *testing.T) {
	n := hivetest.NewNetwork(t)
	cfg := n.Config()
	cfg.ReadTimeout = 500 * time.Millisecond
	svc := n.StartWith(greeter(), cfg)

	c := stallBody(t, n, svc)
	var reply greetReply
	require.NoError(t, n.Call(context.Background(), "greeter.greet", greetRequest{Name: "Ada"}, &reply),
		"a stalled caller must not keep others waiting")

	res, e := envelopeOf(t, c)
	assert.Equal(t, http.StatusGatewayTimeout, res.StatusCode)
	assert.Equal(t, hive.Timeout, e.Code)
	assert.Equal(t, "the request did not arrive within 500ms", e.Message)
	_, err := c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the instance must hang up on a caller it cut")
}

func TestSlowCallerDoesNotPoisonTheLatencyFigures(t *testing.T) {
	n := hivetest.NewNetwork(t)
	svc := n.Start(greeter())

	stall := time.Now()
	c := stallBody(t, n, svc)
	time.Sleep(time.Second) // the caller is slow: that is what this test is about
	fmt.Fprintf(c, "%-99s", `"Ada"}`)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	stalled := time.Since(stall)

	s := instanceStatus(t, n, svc)
	assert.Less(t, s.LatencyP99, float64(stalled.Milliseconds()),
		"the latency figures must measure the service, not how slowly a caller sent its request")
}

func TestIdleConnectionsDoNotBlockCallsAndAreClosed(t *testing.T) {
	n := hivetest.NewNetwork(t)
	cfg := n.Config()
	cfg.ReadTimeout = time.Second // also how long a connection may take to send its first request
	cfg.IdleTimeout = time.Second
	svc := n.StartWith(greeter(), cfg)

	// Half of the connections made a call and idle on; the other half
	// never said anything at all.
	const conns = 500
	idle := make([]net.Conn, conns)
	for i := range idle {
		idle[i] = dial(t, svc.Endpoint())
		if i%2 == 0 {
			fmt.Fprintf(idle[i], "GET /rpc/ping HTTP/1.1\r\nHost: test\r\n\r\n")
		}
	}
	var reply greetReply
	require.NoError(t, n.Call(context.Background(), "greeter.greet", greetRequest{Name: "Ada"}, &reply),
		"%d idle connections must not keep a caller waiting", conns)

	var wg sync.WaitGroup
	for i, c := range idle {
		wg.Go(func() {
			r := bufio.NewReader(c)
			if i%2 == 0 {
				res, err := http.ReadResponse(r, nil)
				if assert.NoError(t, err) {
					res.Body.Close()
					assert.Equal(t, http.StatusOK, res.StatusCode)
				}
			}
			_, err := r.ReadByte()
			assert.ErrorIs(t, err, io.EOF, "the instance must close an idle connection")
		})
	}
	wg.Wait()
}

func TestStopWithAStalledBodyReturnsPromptly(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		cfg := n.Config()
		cfg.ReadTimeout = 10 * patience // not what ends the stalled read
		svc := n.StartWith(greeter(), cfg)
		c := stallBody(t, n, svc)

		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		require.NoError(t, svc.Stop(ctx), "Stop must cut a body that does not come, and not run out of time waiting for it")
		res, e := envelopeOf(t, c)
		assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
		assert.Equal(t, hive.Unavailable, e.Code, "the method never ran: the caller may send it elsewhere")
		assert.Contains(t, e.Message, "is stopping; try another instance")
	})
}

func TestOverMaxInFlightIsUnavailable(t *testing.T) {
	n := hivetest.NewNetwork(t)
	entered, release := make(chan struct{}), make(chan struct{})
	svc := hive.New("busy")
	hive.Handle(svc, "work", func(ctx context.Context, _ struct{}) (struct{}, error) {
		entered <- struct{}{}
		<-release
		return struct{}{}, nil
	})
	cfg := n.Config()
	cfg.MaxInFlight = 2
	n.StartWith(svc, cfg)
	ctx := context.Background()

	done := make(chan error, cfg.MaxInFlight)
	for range cfg.MaxInFlight {
		go func() { done <- n.Call(ctx, "busy.work", nil, nil) }()
		<-entered
	}
	err := n.Call(ctx, "busy.ping", nil, nil)
	assert.ErrorIs(t, err, hive.ErrUnavailable, "a full instance must refuse at once, so that the caller tries another")
	assert.ErrorContains(t, err, "is answering 2 requests already, its limit; try another instance")

	close(release)
	for range cfg.MaxInFlight {
		require.NoError(t, <-done)
	}
	require.NoError(t, n.Call(ctx, "busy.ping", nil, nil), "once calls end, their slots are free again")
}

// postWith posts an empty request to a method, with headers, and returns
// the answer.
func postWith(t *testing.T, endpoint, method string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+endpoint+"/rpc/"+method, strings.NewReader("{}"))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// clock is a service whose method left tells how much time its context
// leaves, through the channel.
func clock() (*hive.Service, <-chan time.Duration) {
	remaining := make(chan time.Duration, 1)
	svc := hive.New("clock")
	hive.Handle(svc, "left", func(ctx context.Context, _ struct{}) (struct{}, error) {
		deadline, _ := ctx.Deadline()
		remaining <- time.Until(deadline)
		return struct{}{}, nil
	})
	return svc, remaining
}

func TestHiveTimeoutHeader(t *testing.T) {
	n := hivetest.NewNetwork(t)
	svc, remaining := clock()
	n.Start(svc)

	tests := []struct {
		header  string
		status  int
		code    hive.Code
		message string
	}{
		{"soon", 400, hive.BadRequest, `the Hive-Timeout header must be a duration, such as 1.5s or 300ms, not "soon"`},
		{"1.5", 400, hive.BadRequest, "must be a duration"},
		{strings.Repeat("9", 5000), 400, hive.BadRequest, `not "` + strings.Repeat("9", 64) + `"`},
		{"0s", 504, hive.Timeout, "the caller's deadline passed before the call arrived (Hive-Timeout: 0s)"},
		{"-3ms", 504, hive.Timeout, "the caller's deadline passed before the call arrived"},
	}
	for _, tt := range tests {
		res := postWith(t, svc.Endpoint(), "left", http.Header{"Hive-Timeout": {tt.header}})
		assert.Equal(t, tt.status, res.StatusCode, tt.header)
		e := decodeEnvelope(t, res)
		assert.Equal(t, tt.code, e.Code, tt.header)
		assert.Contains(t, e.Message, tt.message)
		assert.LessOrEqual(t, len(e.Message), 200, "an answer quotes a bad header only in part")
	}
	assert.Empty(t, remaining, "the method must not run for a bad or expired Hive-Timeout")

	res := postWith(t, svc.Endpoint(), "left", http.Header{"Hive-Timeout": {"1000h"}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.LessOrEqual(t, <-remaining, time.Minute, "no caller gets more than a minute of an instance's work")
}

func TestOnlyWellFormedTraceIDsAreContinued(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		seen := make(chan string, 1)
		svc := hive.New("tracer")
		hive.Handle(svc, "get", func(ctx context.Context, _ struct{}) (struct{}, error) {
			seen <- hive.TraceID(ctx)
			return struct{}{}, nil
		})
		hive.On(svc, "thing.happened", func(ctx context.Context, e hive.Event[struct{}]) error {
			seen <- hive.TraceID(ctx)
			return nil
		})
		n.Start(svc)
		newTrace := regexp.MustCompile(`^[0-9a-f]{16}$`)

		tests := []struct {
			id   string
			kept bool
		}{
			{"trace-0042", true},
			{"4bf92f3577b34da6a3ce929d0e0e4736.00f067aa0ba902b7_x", true},
			{strings.Repeat("a", 64), true},
			{strings.Repeat("a", 65), false},
			{"", false},
			{"a b", false},
			{"<script>", false},
			{`"},"level":"ERROR`, false},
			{"trace-ü", false},
		}
		for i, tt := range tests {
			res := postWith(t, svc.Endpoint(), "get", http.Header{"Hive-Trace-Id": {tt.id}})
			require.Equal(t, http.StatusOK, res.StatusCode)
			rpc := <-seen
			assert.Equal(t, rpc, res.Header.Get("Hive-Trace-Id"), "the answer names the trace the call ran in")

			e := events.Event{ID: fmt.Sprint("e-", i), Type: "thing.happened", Source: "test", TraceID: tt.id, Time: time.Now(), Body: json.RawMessage(`{}`)}
			require.NoError(t, n.Bus.Publish(context.Background(), e))
			var event string
			select {
			case event = <-seen:
			case <-time.After(patience):
				t.Fatalf("the event with trace id %q was never handled", tt.id)
			}

			for what, got := range map[string]string{"call": rpc, "event": event} {
				if tt.kept {
					assert.Equal(t, tt.id, got, "a %s must continue the trace id %q", what, tt.id)
				} else {
					assert.Regexp(t, newTrace, got, "a %s with the trace id %q must start a trace of its own", what, tt.id)
				}
			}
		}
	})
}

func TestPanicAnswersAnIncidentAndLogsTheDetail(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		svc := greeter()
		handled := make(chan struct{}, hivetest.MaxAttempts)
		hive.On(svc, "thing.happened", func(ctx context.Context, e hive.Event[struct{}]) error {
			defer func() { handled <- struct{}{} }()
			panic("the event broke it")
		})
		n.Start(svc)

		res := postWith(t, svc.Endpoint(), "panic", nil)
		assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
		e := decodeEnvelope(t, res)
		assert.Equal(t, hive.Internal, e.Code)
		assert.NotContains(t, e.Message, "something broke", "a panic's value is the service's business, not the caller's")
		incident := regexp.MustCompile(`^an unexpected failure, incident ([0-9a-f]{16}): the log of greeter-[0-9a-f]{8} has the details$`).FindStringSubmatch(e.Message)
		require.NotNil(t, incident, "the answer must name the incident: %q", e.Message)
		assert.Regexp(t, `level=ERROR msg="handler panicked" .*method=panic incident=`+incident[1]+` panic="something broke" stack=".*hive_test\.greeter`, n.Logs.String(),
			"the log line with the incident id must hold the panic and its stack")

		require.NoError(t, svc.Emit(context.Background(), "thing.happened", struct{}{}))
		select {
		case <-handled:
		case <-time.After(patience):
			t.Fatal("the event was never handled")
		}
		require.Eventually(t, func() bool { return strings.Contains(n.Logs.String(), "event handler failed") }, patience, 10*time.Millisecond)
		logs := n.Logs.String()
		incident = regexp.MustCompile(`level=ERROR msg="handler panicked" .*event=thing.happened id=\S+ incident=([0-9a-f]{16}) panic="the event broke it" stack=".*server_test.go`).FindStringSubmatch(logs)
		require.NotNil(t, incident, "an event handler's panic is logged like a method's")
		assert.Regexp(t, `msg="event handler failed" .*incident `+incident[1], logs, "the failure names the incident too")
	})
}

// leaky is a service whose methods fail in ways nobody planned for: a
// plain error that quotes a connection string, and a response that is no
// JSON.
func leaky() *hive.Service {
	svc := hive.New("leaky")
	hive.Handle(svc, "query", func(ctx context.Context, _ struct{}) (struct{}, error) {
		return struct{}{}, fmt.Errorf("connect to the database: dial tcp 10.1.2.3:5432: password=hunter2: connection refused")
	})
	hive.Handle(svc, "stream", func(ctx context.Context, _ struct{}) (chan int, error) {
		return make(chan int), nil
	})
	return svc
}

func TestPlainErrorAnswersAnIncidentAndLogsTheText(t *testing.T) {
	n := hivetest.NewNetwork(t)
	svc := n.Start(leaky())

	for method, logged := range map[string]string{
		"query":  `msg="method failed" .*method=query incident=%s error="connect to the database: dial tcp 10.1.2.3:5432: password=hunter2`,
		"stream": `msg="cannot encode the response as JSON" .*method=stream incident=%s error="json: unsupported type: chan int"`,
	} {
		res := postWith(t, svc.Endpoint(), method, nil)
		assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
		e := decodeEnvelope(t, res)
		assert.Equal(t, hive.Internal, e.Code)
		incident := regexp.MustCompile(`^an unexpected failure, incident ([0-9a-f]{16}): the log of leaky-[0-9a-f]{8} has the details$`).FindStringSubmatch(e.Message)
		require.NotNil(t, incident, "a plain error's text is the service's business: the answer names an incident and nothing more; got %q", e.Message)
		assert.Regexp(t, `level=ERROR `+fmt.Sprintf(logged, incident[1]), n.Logs.String(), "the log line with the incident id must hold the error")
	}
}

func TestShowErrorsShowsAPlainErrorsText(t *testing.T) {
	n := hivetest.NewNetwork(t)
	cfg := n.Config()
	cfg.ShowErrors = true
	svc := n.StartWith(leaky(), cfg)

	e := decodeEnvelope(t, postWith(t, svc.Endpoint(), "query", nil))
	assert.Equal(t, hive.Internal, e.Code)
	assert.Regexp(t, `^an unexpected failure, incident [0-9a-f]{16}: connect to the database: dial tcp 10.1.2.3:5432: password=hunter2: connection refused$`, e.Message,
		"with ShowErrors, for development, the caller reads the error's text too")
}

func TestGoOwnAnswersAreEnvelopesToo(t *testing.T) {
	n := hivetest.NewNetwork(t)
	svc := n.Start(greeter())

	tests := []struct {
		name, request, message string
	}{
		{"headers too large (Go's 431)", "GET /rpc/ping HTTP/1.1\r\nHost: test\r\nX-Big: " + strings.Repeat("x", 32<<10) + "\r\n\r\n",
			"the request headers are larger than the limit of 16384 bytes"},
		{"not HTTP at all (Go's 400)", "hello\r\n\r\n", "the request is not valid HTTP/1.1: 400 Bad Request"},
		{"no Host (Go's 400)", "GET /rpc/ping HTTP/1.1\r\n\r\n", "the request is not valid HTTP/1.1: 400 Bad Request: missing required Host header"},
		{"unknown HTTP version (Go's 505)", "GET /rpc/ping HTTP/2.5\r\nHost: test\r\n\r\n", "505 HTTP Version Not Supported"},
		{"unknown transfer encoding (Go's 501)", "POST /rpc/ping HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\n", "Unsupported transfer encoding"},
		{"unknown expectation (Go's 417)", "POST /rpc/ping HTTP/1.1\r\nHost: test\r\nExpect: a-miracle\r\nContent-Length: 2\r\n\r\n{}", "417 Expectation Failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, svc.Endpoint())
			// Write while the answer is read: Go answers a request too large
			// before it has all of it.
			go io.WriteString(c, tt.request)
			res, e := envelopeOf(t, c)
			assert.Equal(t, http.StatusBadRequest, res.StatusCode, "the status fits the code, as for every envelope")
			assert.Equal(t, "greeter", res.Header.Get("Hive-Service"))
			assert.Equal(t, hive.BadRequest, e.Code)
			assert.Contains(t, e.Message, tt.message)
		})
	}
	require.NoError(t, n.Call(context.Background(), "greeter.ping", nil, nil), "the instance goes on serving")
}

func TestAnswersNameTheServiceAndRefuseCallsForAnother(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		var mu sync.Mutex
		var ran int
		svc := hive.New("menu")
		hive.Handle(svc, "get", func(ctx context.Context, _ struct{}) (struct{}, error) {
			mu.Lock()
			defer mu.Unlock()
			ran++
			return struct{}{}, nil
		})
		n.Start(svc)

		res := postWith(t, svc.Endpoint(), "get", http.Header{"Hive-Service": {"order"}})
		assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
		assert.Equal(t, "menu", res.Header.Get("Hive-Service"), "every answer names the service that gave it")
		e := decodeEnvelope(t, res)
		assert.Equal(t, hive.Unavailable, e.Code, "a caller that reached the wrong service may find the right one elsewhere")
		assert.Equal(t, `this is an instance of menu, not of "order"`, e.Message)
		mu.Lock()
		assert.Zero(t, ran, "the method must not run for a call meant for another service")
		mu.Unlock()

		for _, header := range []http.Header{{"Hive-Service": {"menu"}}, nil} {
			res := postWith(t, svc.Endpoint(), "get", header)
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "menu", res.Header.Get("Hive-Service"), "every answer names the service that gave it")
		}
		res = postWith(t, svc.Endpoint(), "nothing", nil)
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
		assert.Equal(t, "menu", res.Header.Get("Hive-Service"), "every answer names the service that gave it")
	})
}

// A caller that sends its headers and then its body slowly holds no slot
// of MaxInFlight: a slot is taken once the request has arrived whole, so
// that slow callers, however many, cannot make the instance refuse others.
func TestSlowBodiesTakeNoSlots(t *testing.T) {
	n := hivetest.NewNetwork(t)
	svc := n.Start(greeter())

	const slow = 300 // more than MaxInFlight's default, 256
	for range slow {
		c := dial(t, svc.Endpoint())
		fmt.Fprintf(c, "POST /rpc/greet HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n{\"name\":\"")
	}
	// Wait until the instance is reading at least 256 of those bodies.
	// Before the fix, they held every slot: status itself was refused.
	err := hivetest.Eventually(patience, func() error {
		var s hive.Status
		if err := n.Call(context.Background(), "greeter.status", nil, &s); err != nil {
			return nil // refused: the slow callers hold the instance
		}
		if s.InFlight < 256 {
			return fmt.Errorf("%d requests in flight", s.InFlight)
		}
		return nil
	})
	require.NoError(t, err, "the instance never began to read the slow bodies")

	var refused []error
	for range 20 {
		var reply greetReply
		if err := n.Call(context.Background(), "greeter.greet", greetRequest{Name: "Ada"}, &reply); err != nil {
			refused = append(refused, err)
		}
	}
	if len(refused) > 0 {
		t.Errorf("%d slow callers made the instance refuse %d of 20 calls; the first: %v", slow, len(refused), refused[0])
	}
}

// Connections over MaxConns wait until others close, and at the cap the
// instance closes its idle keep-alive connections to make room: many idle
// callers cannot use up the file descriptors of an instance.
func TestConnectionsAreCappedAndIdleOnesMakeRoom(t *testing.T) {
	n := hivetest.NewNetwork(t)
	cfg := n.Config()
	cfg.MaxConns = 20
	cfg.IdleTimeout = 10 * patience // not what closes them
	svc := n.StartWith(greeter(), cfg)

	// Each connection makes a call and idles on, as a client's keep-alive
	// connection does.
	const conns = 3 * 20
	var wg sync.WaitGroup
	idle := make([]net.Conn, conns)
	for i := range idle {
		c := dial(t, svc.Endpoint())
		idle[i] = c
		fmt.Fprintf(c, "GET /rpc/ping HTTP/1.1\r\nHost: test\r\n\r\n")
		wg.Go(func() {
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if assert.NoError(t, err, "a connection over the cap must wait for its turn, and be answered") {
				res.Body.Close()
				assert.Equal(t, http.StatusOK, res.StatusCode)
			}
		})
	}
	wg.Wait()

	var reply greetReply
	require.NoError(t, n.Call(context.Background(), "greeter.greet", greetRequest{Name: "Ada"}, &reply),
		"%d idle connections must not keep a caller out", conns)
	s := instanceStatus(t, n, svc)
	assert.LessOrEqual(t, s.Connections, cfg.MaxConns, "the instance must hold at most MaxConns connections open")
	assert.Contains(t, n.Logs.String(), "connections at their limit: closing idle keep-alive connections", "the log must say that the cap was reached")

	for _, c := range idle {
		c.Close()
	}
	err := hivetest.Eventually(patience, func() error {
		if !strings.Contains(n.Logs.String(), "connections below their limit again: keep-alive is back") {
			return errors.New("the log never said that the cap was lifted")
		}
		return nil
	})
	assert.NoError(t, err)
}

// A method whose event the bus could not store answers unavailable, not
// an incident: the broker failed, and a later try may pass.
func TestEventNotStoredAnswersUnavailable(t *testing.T) {
	n := hivetest.NewNetwork(t)
	svc := hive.New("teller")
	hive.Handle(svc, "tell", func(ctx context.Context, _ struct{}) (struct{}, error) {
		return struct{}{}, fmt.Errorf("tell: rabbitmq: publish news.told: %w: RabbitMQ refused the message (nack)", events.ErrNotStored)
	})
	n.Start(svc)

	e := decodeEnvelope(t, postWith(t, svc.Endpoint(), "tell", nil))
	assert.Equal(t, hive.Unavailable, e.Code)
	assert.Equal(t, "teller.tell could not hand an event to the event bus; try again", e.Message)
	assert.Contains(t, n.Logs.String(), "RabbitMQ refused the message (nack)", "the log keeps the broker's words")
}
