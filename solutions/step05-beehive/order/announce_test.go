package order

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/registry"

	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/kitchen"
	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/ledger"
)

// Orders placed before any kitchen ever ran must not be accepted and then
// go nowhere: RabbitMQ has no queue for "order.placed" yet, so order.place
// fails, and the customer tries again. Once a kitchen has started, the
// same keys place the orders, and each is cooked exactly once.
func TestOrdersPlacedBeforeAnyKitchenAreCookedOnceOneCame(t *testing.T) {
	n := hivetest.NewRabbitMQNetwork(t) // real RabbitMQ, in a namespace of its own
	n.Start(fakeMenu())
	svc := n.Start(New(ledger.NewMemory()))
	on := registry.Instance{ID: svc.ID(), Service: "order", Endpoint: svc.Endpoint()}
	cooked := listenCooked(t, n)

	const orders = 5
	reqs := make([]PlaceRequest, orders)
	for i := range reqs {
		reqs[i] = PlaceRequest{IdempotencyKey: fmt.Sprintf("early-%d", i), Items: []Item{{DishID: 3, Quantity: 1}}}
		_, err := place(t, n, on, reqs[i])
		require.ErrorIs(t, err, hive.ErrUnavailable, "order.place before any kitchen ran should fail, so that the customer tries again")
		assert.ErrorContains(t, err, "no kitchen")
	}

	k := n.Start(kitchen.New(ledger.NewMemory(), kitchen.Options{CookTime: time.Millisecond}))
	ids := make(map[string]bool)
	for _, req := range reqs {
		reply, err := place(t, n, on, req)
		require.NoError(t, err, "order.place %s again, once a kitchen runs", req.IdempotencyKey)
		ids[reply.OrderID] = true
	}
	require.Len(t, ids, orders, "the keys did not make one order each")

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		for id := range ids {
			assert.NotZero(c, cooked.times(id), "order %s was never cooked", id)
		}
	}, 10*time.Second, 20*time.Millisecond)
	// Stop waits for the handlers in flight, so a second cooking would be
	// counted now.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, k.Stop(ctx), "stopping the kitchen failed")
	for id := range ids {
		assert.Equal(t, 1, cooked.times(id), "order %s was cooked %d times; want once", id, cooked.times(id))
	}
	assert.Len(t, cooked.all(), orders, "the kitchen cooked orders that were not placed")
}

// cookedOrders counts the "order.cooked" events heard, by order ID. Each
// order here is announced once, and so cooked once, and heard once.
type cookedOrders struct {
	mu    sync.Mutex
	heard map[string]int
}

// listenCooked starts a service that listens to "order.cooked", as the
// chaos test does, and counts what it hears.
func listenCooked(t *testing.T, n *hivetest.Network) *cookedOrders {
	t.Helper()
	c := &cookedOrders{heard: make(map[string]int)}
	svc := hive.New("listener")
	hive.On(svc, "order.cooked", func(ctx context.Context, e hive.Event[kitchen.Cooked]) error {
		if e.Body.OrderID == "" {
			return errors.New("an order.cooked event without an order_id")
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.heard[e.Body.OrderID]++
		return nil
	})
	n.Start(svc)
	return c
}

func (c *cookedOrders) times(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heard[id]
}

func (c *cookedOrders) all() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heard
}
