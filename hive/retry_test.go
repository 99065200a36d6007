package hive_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

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
	n := hivetest.NewNetwork(t)
	var gets, puts atomic.Int64
	n.Start(counter(&gets, &puts))
	draining := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":"unavailable","message":"draining"}}`))
	}))
	defer draining.Close()
	register(t, n, "counter-draining", draining.Listener.Addr().String())
	client := hive.NewClient(n.Registry, hive.ClientOptions{Logger: quiet, Picker: firstPicker("counter-draining")})
	defer client.Close()

	require.NoError(t, client.Call(context.Background(), "counter.put", nil, nil),
		"Unavailable promises that nothing was done, so any method may go to another instance")
	assert.Equal(t, int64(1), puts.Load())
}

func TestRoundRobinTakesTurns(t *testing.T) {
	rr := hive.RoundRobin()
	list := []registry.Instance{{ID: "a", Service: "s"}, {ID: "b", Service: "s"}, {ID: "c", Service: "s"}}
	var got []string
	for range 6 {
		inst, done := rr.Pick(list)
		done(nil)
		got = append(got, inst.ID)
	}
	assert.Equal(t, []string{"a", "b", "c", "a", "b", "c"}, got)
}
