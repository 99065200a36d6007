package hive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// networks runs a test on the in-memory backends and on the real brokers:
// whatever behaviour they share, they must show alike.
func networks(t *testing.T, test func(t *testing.T, n *hivetest.Network)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, hivetest.NewNetwork(t))
	})
	t.Run("brokers", func(t *testing.T) {
		t.Parallel()
		test(t, brokertest.NewNetwork(t))
	})
}

type greetRequest struct {
	Name string `json:"name"`
}

type greetReply struct {
	Greeting string `json:"greeting"`
}

// greeter is a small service with the cases the tests need.
func greeter() *hive.Service {
	svc := hive.New("greeter")
	hive.Handle(svc, "greet", func(ctx context.Context, req greetRequest) (greetReply, error) {
		if req.Name == "" {
			return greetReply{}, hive.Errorf(hive.BadRequest, "name must not be empty")
		}
		return greetReply{Greeting: "Hello, " + req.Name + "!"}, nil
	})
	hive.Handle(svc, "slow", func(ctx context.Context, _ struct{}) (struct{}, error) {
		<-ctx.Done()
		return struct{}{}, ctx.Err()
	})
	hive.Handle(svc, "panic", func(ctx context.Context, _ struct{}) (struct{}, error) {
		panic("something broke")
	})
	return svc
}

func TestCallFindsServiceAndReturnsTypedErrors(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		n.Start(greeter())
		ctx := context.Background()

		var reply greetReply
		require.NoError(t, n.Call(ctx, "greeter.greet", greetRequest{Name: "Ada"}, &reply))
		assert.Equal(t, "Hello, Ada!", reply.Greeting)

		err := n.Call(ctx, "greeter.greet", greetRequest{}, &reply)
		require.Error(t, err, "an empty name must fail")
		assert.ErrorIs(t, err, hive.ErrBadRequest, "the remote code must survive the trip")
		assert.NotErrorIs(t, err, hive.ErrInternal)
		var e *hive.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "greeter.greet", e.Method, "the error must say which remote method failed")
		assert.Equal(t, "name must not be empty", e.Message)
		assert.Equal(t, "greeter.greet: bad_request: name must not be empty", err.Error())
	})
}

func TestCallEndsAtDeadline(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		n.Start(greeter())
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()

		start := time.Now()
		err := n.Call(ctx, "greeter.slow", nil, nil)
		assert.ErrorIs(t, err, hive.ErrTimeout)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 3*time.Second, "the call must end near its deadline, not much later")
	})
}

func TestDeadlineTravelsToTheCallee(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		svc, remaining := clock()
		n.Start(svc)

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		require.NoError(t, n.Call(ctx, "clock.left", nil, nil))
		left := <-remaining
		assert.LessOrEqual(t, left, 2*time.Second)
		assert.Greater(t, left, time.Second, "the callee's deadline must be the caller's, not the 5s default")
	})
}

func TestTraceIDTravelsThroughCallsEventsAndLogs(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		seen := make(chan string, 3)

		menu := hive.New("menu")
		hive.Handle(menu, "get", func(ctx context.Context, _ struct{}) (struct{}, error) {
			seen <- "menu.get:" + hive.TraceID(ctx)
			menu.Logger().InfoContext(ctx, "looking up the menu")
			return struct{}{}, menu.Emit(ctx, "menu.viewed", struct{}{})
		})
		order := hive.New("order")
		hive.Handle(order, "place", func(ctx context.Context, _ struct{}) (struct{}, error) {
			seen <- "order.place:" + hive.TraceID(ctx)
			return struct{}{}, order.Call(ctx, "menu.get", nil, nil)
		})
		audit := hive.New("audit")
		hive.On(audit, "menu.viewed", func(ctx context.Context, e hive.Event[struct{}]) error {
			seen <- "audit:" + hive.TraceID(ctx) + ":" + e.TraceID
			return nil
		})
		n.Start(menu)
		n.Start(order)
		n.Start(audit)

		ctx := hive.WithTraceID(context.Background(), "trace-0042")
		require.NoError(t, n.Call(ctx, "order.place", nil, nil))
		for _, want := range []string{"order.place:trace-0042", "menu.get:trace-0042", "audit:trace-0042:trace-0042"} {
			select {
			case got := <-seen:
				assert.Equal(t, want, got)
			case <-time.After(10 * time.Second):
				t.Fatalf("waited 10s for %s", want)
			}
		}
		assert.Contains(t, n.Logs.String(), `msg="looking up the menu" service=menu`, "the callee logged")
		assert.Regexp(t, `"looking up the menu" .*trace_id=trace-0042`, n.Logs.String(), "the callee's log line must carry the caller's trace id")
	})
}

func TestNoInstanceIsUnavailable(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		err := n.Call(context.Background(), "nobody.home", nil, nil)
		assert.ErrorIs(t, err, hive.ErrUnavailable)
		assert.ErrorContains(t, err, "no instance of service nobody is running")
	})
}

// post sends body to a method over plain HTTP, the way curl would, and
// returns the status and the decoded error envelope.
func post(t *testing.T, endpoint, method string, body io.Reader) (int, hive.Error) {
	t.Helper()
	res, err := http.Post("http://"+endpoint+"/rpc/"+method, "application/json", body)
	require.NoError(t, err)
	defer res.Body.Close()
	var env struct{ Error hive.Error }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&env), "every failure must answer with a JSON error envelope")
	return res.StatusCode, env.Error
}

func TestBadInputGetsAnErrorEnvelopeAndTheInstanceGoesOn(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		cfg := n.Config()
		cfg.MaxBodyBytes = 1024
		svc := n.StartWith(greeter(), cfg)
		endpoint := svc.Endpoint()

		tests := []struct {
			name, method, body string
			status             int
			code               hive.Code
			message            string
		}{
			{"malformed JSON", "greet", `{"name": "Ada"`, 400, hive.BadRequest, "not valid JSON for hive_test.greetRequest"},
			{"wrong JSON type", "greet", `{"name": 42}`, 400, hive.BadRequest, "not valid JSON"},
			{"unknown method", "gret", `{}`, 404, hive.NotFound, `service greeter has no method "gret"; it has greet, panic, slow, ping, status, inspect`},
			{"body over the limit", "greet", `{"name":"` + strings.Repeat("a", 2000) + `"}`, 400, hive.BadRequest, "larger than the limit of 1024 bytes"},
			{"panicking handler", "panic", `{}`, 500, hive.Internal, "an unexpected failure, incident "},
		}
		for _, tt := range tests {
			status, e := post(t, endpoint, tt.method, strings.NewReader(tt.body))
			assert.Equal(t, tt.status, status, tt.name)
			assert.Equal(t, tt.code, e.Code, tt.name)
			assert.Contains(t, e.Message, tt.message, tt.name)

			var pong hive.Pong
			require.NoError(t, n.Call(context.Background(), "greeter.ping", nil, &pong), "the instance must go on serving after %s", tt.name)
		}
		assert.Contains(t, n.Logs.String(), `msg="handler panicked"`, "a panic must be logged, with its stack")
	})
}

func TestGracefulStopFinishesInFlightRequestsAndDeregistersFirst(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		entered, release := make(chan struct{}), make(chan struct{})
		svc := hive.New("worker")
		hive.Handle(svc, "work", func(ctx context.Context, _ struct{}) (string, error) {
			close(entered)
			<-release
			return "done", nil
		})
		n.Start(svc)
		ctx := context.Background()

		result := make(chan error, 1)
		var answer string
		go func() { result <- n.Call(ctx, "worker.work", nil, &answer) }()
		<-entered

		stopped := make(chan error, 1)
		go func() { stopped <- svc.Stop(ctx) }()

		require.Eventually(t, func() bool {
			list, err := n.Registry.Instances(ctx, "worker")
			return err == nil && len(list) == 0
		}, 10*time.Second, 10*time.Millisecond, "a stopping instance must leave the registry while its request is still in flight")
		select {
		case <-stopped:
			t.Fatal("Stop returned while a request was still in flight")
		default:
		}

		close(release)
		require.NoError(t, <-result, "the in-flight request must finish")
		assert.Equal(t, "done", answer)
		require.NoError(t, <-stopped)
	})
}

func TestBuiltinMethods(t *testing.T) {
	n := hivetest.NewNetwork(t)
	svc := n.Start(greeter())
	ctx := context.Background()

	var pong hive.Pong
	require.NoError(t, n.Call(ctx, "greeter.ping", nil, &pong))
	assert.Equal(t, hive.Pong{Service: "greeter", Instance: svc.ID()}, pong)

	require.Error(t, n.Call(ctx, "greeter.greet", greetRequest{}, nil))
	var status hive.Status
	require.NoError(t, n.Call(ctx, "greeter.status", nil, &status))
	assert.Equal(t, int64(2), status.Calls, "ping and greet were answered before status")
	assert.Equal(t, int64(1), status.Errors)
	assert.Equal(t, int64(0), status.InFlight, "the status call does not count itself")

	var in hive.Inspection
	require.NoError(t, n.Call(ctx, "greeter.inspect", nil, &in))
	require.NotEmpty(t, in.Methods)
	greet := in.Methods[0]
	assert.Equal(t, "greet", greet.Name)
	assert.Equal(t, "hive_test.greetRequest", greet.RequestType)
	assert.JSONEq(t, `{"name":""}`, string(greet.Request))
	assert.JSONEq(t, `{"greeting":""}`, string(greet.Response))
}

// status counts the calls an instance makes, by the service called, and
// those that failed: the edges of hive web's picture.
func TestStatusCountsCallsOut(t *testing.T) {
	n := hivetest.NewNetwork(t)
	n.Start(greeter())
	front := n.Start(hive.New("front"))
	ctx := context.Background()

	var status hive.Status
	require.NoError(t, n.Call(ctx, "front.status", nil, &status))
	assert.Nil(t, status.CallsOut, "an instance that called nobody counts no calls out")

	require.NoError(t, front.Call(ctx, "greeter.greet", greetRequest{Name: "Ada"}, nil))
	require.Error(t, front.Call(ctx, "greeter.greet", greetRequest{}, nil))
	require.Error(t, front.Call(ctx, "nobody.greet", greetRequest{Name: "Ada"}, nil))
	require.NoError(t, n.Call(ctx, "front.status", nil, &status))
	require.Len(t, status.CallsOut, 2, "calls out: %+v", status.CallsOut)
	for service, want := range map[string]hive.CallCount{"greeter": {Calls: 2, Errors: 1}, "nobody": {Calls: 1, Errors: 1}} {
		got := status.CallsOut[service]
		assert.Positive(t, got.LatencyP99, "the calls to %s took no time", service)
		got.LatencyP99 = 0
		assert.Equal(t, want, got, "the calls to %s", service)
	}
	var greeterStatus hive.Status
	require.NoError(t, n.Call(ctx, "greeter.status", nil, &greeterStatus))
	assert.Nil(t, greeterStatus.CallsOut, "the calls an instance answers count as its calls out")
}

func TestCallsOverCurlStyleHTTP(t *testing.T) {
	n := hivetest.NewNetwork(t)
	svc := n.Start(greeter())
	res, err := http.Post("http://"+svc.Endpoint()+"/rpc/greet", "application/json", bytes.NewBufferString(`{"name":"curl"}`))
	require.NoError(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	assert.Equal(t, 200, res.StatusCode)
	assert.JSONEq(t, `{"greeting":"Hello, curl!"}`, string(body))
	assert.NotEmpty(t, res.Header.Get("Hive-Trace-Id"), "every answer names its trace, to search the logs with")
}

func TestMethodNamesMustBeServiceDotMethod(t *testing.T) {
	n := hivetest.NewNetwork(t)
	err := n.Call(context.Background(), "greet", nil, nil)
	assert.ErrorContains(t, err, "write the method as service.method")
}

func TestStopHooksRunOnlyAfterStartHooks(t *testing.T) {
	n := hivetest.NewNetwork(t)
	var stopped bool
	svc := hive.New("fragile")
	svc.OnStart(func(context.Context) error { return errors.New("no database") })
	svc.OnStop(func(context.Context) error { stopped = true; return nil })

	err := svc.Start(context.Background(), n.Config())
	assert.ErrorContains(t, err, "hive: start fragile: start hook: no database")
	assert.False(t, stopped, "OnStop hooks clean up after OnStart hooks; when those failed, there is nothing to clean up")
}
