package order

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"

	"github.com/hive-workshop/microservices-go/step05-beehive/ledger"
)

// Orders placed before any kitchen ever ran must not be accepted and then
// go nowhere: RabbitMQ has no queue for "order.placed" yet, so order.place
// fails, and the customer tries again. Once a kitchen has started, the
// same keys place the orders, and each is cooked exactly once.
//
// All along, `hive subscribe 'order.*'` watches, as the README suggests:
// it sees the events, but it is no kitchen. (It used to count as one: the
// orders were accepted, marked as announced, and never cooked.)
func TestOrdersPlacedBeforeAnyKitchenAreCookedOnceOneCame(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t) // real RabbitMQ, in a namespace of its own
	n.Start(fakeMenu())
	svc := n.Start(New(ledger.NewMemory()))
	on := registry.Instance{ID: svc.ID(), Service: "order", Endpoint: svc.Endpoint()}
	tap := events.Subscription{Service: "hive-cli", Name: "tail", Pattern: "order.*", Broadcast: true, Instance: "hive-cli-test", Tap: true}
	stopTap, err := n.Bus.Subscribe(t.Context(), tap, func(context.Context, events.Event) error { return nil })
	if err != nil {
		t.Fatalf("starting a tap, as hive subscribe does: %v", err)
	}
	t.Cleanup(stopTap)

	const orders = 5
	reqs := make([]PlaceRequest, orders)
	for i := range reqs {
		reqs[i] = PlaceRequest{IdempotencyKey: fmt.Sprintf("early-%d", i), Items: []Item{{DishID: 3, Quantity: 1}}}
		_, err := place(t, n, on, reqs[i])
		if !errors.Is(err, hive.ErrUnavailable) {
			t.Fatalf("order.place before any kitchen ran = %v; want an unavailable error, so that the customer tries again", err)
		}
		if !strings.Contains(err.Error(), "no kitchen") {
			t.Errorf("order.place before any kitchen ran = %q; want an error that says \"no kitchen\"", err)
		}
	}

	cooked, kitchen := countingKitchen()
	k := n.Start(kitchen)
	ids := make(map[string]bool)
	for _, req := range reqs {
		reply, err := place(t, n, on, req)
		if err != nil {
			t.Fatalf("order.place %s again, once a kitchen runs: %v", req.IdempotencyKey, err)
		}
		ids[reply.OrderID] = true
	}
	if len(ids) != orders {
		t.Fatalf("%d keys made %d orders (%v); want one order each", orders, len(ids), ids)
	}

	err = hivetest.Eventually(10*time.Second, func() error {
		for id := range ids {
			if cooked.times(id) == 0 {
				return fmt.Errorf("order %s was never cooked", id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("within 10s, %v", err)
	}
	all := cooked.stopAndCount(t, k)
	for id := range ids {
		if times := all[id]; times != 1 {
			t.Errorf("order %s was cooked %d times; want once", id, times)
		}
	}
	if len(all) != orders {
		t.Errorf("the kitchen cooked %d orders (%v); want the %d placed", len(all), all, orders)
	}
}

// cookedOrders counts the "order.placed" events that a kitchen took, by
// order ID: each order announced once is cooked once.
type cookedOrders struct {
	mu    sync.Mutex
	heard map[string]int
}

// countingKitchen returns a service called "kitchen" that cooks every
// order it hears of at once, and counts them. It stands in for step 5's
// kitchen, so that order's tests do not wait for the kitchen's task.
func countingKitchen() (*cookedOrders, *hive.Service) {
	c := &cookedOrders{heard: make(map[string]int)}
	svc := hive.New("kitchen")
	hive.On(svc, "order.placed", func(ctx context.Context, e hive.Event[OrderPlaced]) error {
		if e.Body.OrderID == "" {
			return errors.New("an order.placed event without an order_id")
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.heard[e.Body.OrderID]++
		return nil
	})
	return c, svc
}

func (c *cookedOrders) times(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heard[id]
}

// stopAndCount stops the kitchen k and returns how often it cooked each
// order. Stop waits for the handlers in flight, so that a second cooking
// is counted too.
func (c *cookedOrders) stopAndCount(t *testing.T, k *hive.Service) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.Stop(ctx); err != nil {
		t.Fatalf("stopping the kitchen failed: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.heard)
}
