package hive_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// counter is a service that counts the calls of its two methods, one
// declared idempotent and one not.
func counter(gets, puts *atomic.Int64) *hive.Service {
	svc := hive.New("counter")
	hive.Handle(svc, "get", func(ctx context.Context, _ struct{}) (int64, error) {
		return gets.Add(1), nil
	}, hive.Idempotent())
	hive.Handle(svc, "put", func(ctx context.Context, _ struct{}) (int64, error) {
		return puts.Add(1), nil
	})
	return svc
}

// register adds a fake instance of counter at endpoint to the network's
// registry.
func register(t *testing.T, n *hivetest.Network, id, endpoint string) {
	t.Helper()
	inst := registry.Instance{ID: id, Service: "counter", Endpoint: endpoint, Idempotent: []string{"get"}}
	require.NoError(t, n.Registry.Register(context.Background(), inst))
}

// firstPicker picks the instance called id while it is a candidate, so
// that every call tries it first.
func firstPicker(id string) hive.Picker {
	return hive.PickerFunc(func(instances []registry.Instance) registry.Instance {
		for _, inst := range instances {
			if inst.ID == id {
				return inst
			}
		}
		return instances[0]
	})
}

// tryFirst starts a counter, and next to it registers an instance that h
// serves. It returns a client that tries h's instance first, and the
// counts of the counter's calls.
func tryFirst(t *testing.T, h http.Handler) (client *hive.Client, gets, puts *atomic.Int64) {
	n := hivetest.NewNetwork(t)
	gets, puts = new(atomic.Int64), new(atomic.Int64)
	n.Start(counter(gets, puts))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	register(t, n, "counter-first", srv.Listener.Addr().String())
	client = hive.NewClient(n.Registry, hive.ClientOptions{Logger: quiet, Picker: firstPicker("counter-first")})
	t.Cleanup(func() { client.Close() })
	return client, gets, puts
}

// answer returns a handler that answers every call with status and body.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// quiet drops the client's log lines about retries, which these tests cause
// on purpose.
var quiet = slog.New(slog.DiscardHandler)

// closedAddress returns an address where nothing listens.
func closedAddress(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln.Close()
	return ln.Addr().String()
}

func TestCallRetriesAnInstanceThatCannotBeReached(t *testing.T) {
	n := hivetest.NewNetwork(t)
	var gets, puts atomic.Int64
	n.Start(counter(&gets, &puts))
	register(t, n, "counter-dead", closedAddress(t))
	client := hive.NewClient(n.Registry, hive.ClientOptions{Logger: quiet, Picker: firstPicker("counter-dead")})
	defer client.Close()

	require.NoError(t, client.Call(context.Background(), "counter.put", nil, nil),
		"a request that never reached an instance is safe to send to another, even when not idempotent")
	assert.Equal(t, int64(1), puts.Load())
}

func TestCallRetriesOnlyIdempotentMethodsAfterABrokenConnection(t *testing.T) {
	n := hivetest.NewNetwork(t)
	var gets, puts atomic.Int64
	n.Start(counter(&gets, &puts))

	// An instance that dies in the middle of every request: the request
	// reached it, and nobody knows whether it did the work.
	var reached atomic.Int64
	crashing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer crashing.Close()
	register(t, n, "counter-crashing", crashing.Listener.Addr().String())
	client := hive.NewClient(n.Registry, hive.ClientOptions{Logger: quiet, Picker: firstPicker("counter-crashing")})
	defer client.Close()
	ctx := context.Background()

	require.NoError(t, client.Call(ctx, "counter.get", nil, nil), "an idempotent method is retried on another instance")
	assert.Equal(t, int64(1), gets.Load())

	err := client.Call(ctx, "counter.put", nil, nil)
	assert.ErrorIs(t, err, hive.ErrUnavailable, "a method that is not idempotent must not be sent twice")
	assert.Equal(t, int64(0), puts.Load(), "the second instance must never see the put")
	assert.Equal(t, int64(2), reached.Load())
}

func TestCallRetriesWhenAnInstanceSaysUnavailable(t *testing.T) {
	client, _, puts := tryFirst(t, answer(http.StatusServiceUnavailable, `{"error":{"code":"unavailable","message":"draining"}}`))

	require.NoError(t, client.Call(context.Background(), "counter.put", nil, nil),
		"Unavailable promises that nothing was done, so any method may go to another instance")
	assert.Equal(t, int64(1), puts.Load())
}

func TestRoundRobinTakesTurns(t *testing.T) {
	list := []registry.Instance{{ID: "a", Service: "s"}, {ID: "b", Service: "s"}, {ID: "c", Service: "s"}}
	assert.Equal(t, []string{"a", "b", "c", "a", "b", "c"}, turns(hive.RoundRobin(), list, 6))
}

// turns returns the IDs of the next n instances that p picks from list,
// each of which succeeds.
func turns(p hive.Picker, list []registry.Instance, n int) []string {
	var got []string
	for range n {
		inst, done := p.Pick(list)
		done(nil)
		got = append(got, inst.ID)
	}
	return got
}

// frozen answers no call, like a process that is stopped (SIGSTOP) or
// stuck: the worst kind of failure, since nothing tells the caller that no
// answer will come. It lets go when the caller does.
func frozen(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func TestCallGivesAFrozenInstanceHalfTheDeadlineIfAnotherCanTry(t *testing.T) {
	client, gets, puts := tryFirst(t, http.HandlerFunc(frozen))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()

	require.NoError(t, client.Call(ctx, "counter.get", nil, nil),
		"an idempotent call must leave the frozen instance after half its deadline, and try the other")
	assert.Equal(t, int64(1), gets.Load())

	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := client.Call(ctx, "counter.put", nil, nil)
	assert.ErrorIs(t, err, hive.ErrTimeout, "a put may have been done by the frozen instance: it must not be sent again")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int64(0), puts.Load(), "the second instance must never see the put")
}

func TestCallRetriesOnlyIdempotentMethodsAfterATimeoutAnswer(t *testing.T) {
	client, gets, puts := tryFirst(t, answer(http.StatusGatewayTimeout, `{"error":{"code":"timeout","message":"counter.get did not finish within 1s"}}`))
	ctx := context.Background()

	require.NoError(t, client.Call(ctx, "counter.get", nil, nil), "an idempotent method is tried again after a timeout")
	assert.Equal(t, int64(1), gets.Load())
	assert.ErrorIs(t, client.Call(ctx, "counter.put", nil, nil), hive.ErrTimeout,
		"a put that timed out may have been done: it must not be sent again")
	assert.Equal(t, int64(0), puts.Load())
}

func TestRoundRobinLetsAnInstanceThatFailedSitOut(t *testing.T) {
	list := []registry.Instance{{ID: "a", Service: "s"}, {ID: "b", Service: "s"}, {ID: "c", Service: "s"}}
	for _, failure := range []error{
		hive.ErrUnavailable,
		hive.ErrTimeout,
		&net.OpError{Op: "dial", Err: errors.New("connection refused")},
		context.DeadlineExceeded,
	} {
		rr := hive.RoundRobin()
		a, done := rr.Pick(list)
		require.Equal(t, "a", a.ID)
		done(failure)
		assert.Equal(t, []string{"c", "b", "c", "b"}, turns(rr, list, 4), "after %v, a must sit out its turns", failure)
	}
}

func TestRoundRobinKeepsAnInstanceThatFailedTheRequest(t *testing.T) {
	list := []registry.Instance{{ID: "a", Service: "s"}, {ID: "b", Service: "s"}}
	for _, failure := range []error{hive.ErrNotFound, hive.ErrBadRequest, hive.ErrConflict, hive.ErrInternal, context.Canceled} {
		rr := hive.RoundRobin()
		_, done := rr.Pick(list)
		done(failure)
		assert.Equal(t, []string{"b", "a"}, turns(rr, list, 2), "%v says nothing against the instance", failure)
	}
}

func TestRoundRobinPicksAmongAllWhenAllSitOut(t *testing.T) {
	rr := hive.RoundRobin()
	list := []registry.Instance{{ID: "a", Service: "s"}, {ID: "b", Service: "s"}}
	for range 2 {
		_, done := rr.Pick(list)
		done(hive.ErrUnavailable)
	}
	inst, _ := rr.Pick(list)
	assert.Contains(t, []string{"a", "b"}, inst.ID, "a picker must pick someone, even when every instance failed")
}
