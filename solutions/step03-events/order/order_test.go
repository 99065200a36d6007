package main

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

func TestTask1_PlacedOrderIsAnnounced(t *testing.T) {
	// Real RabbitMQ (`make up` starts it), in this test process. The test
	// plays the kitchen: it listens for "order.placed" events.
	n := brokertest.NewRabbitMQNetwork(t)
	placed := make(chan hive.Event[OrderPlaced], 10)
	kitchen := hive.New("kitchen")
	hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[OrderPlaced]) error {
		placed <- e
		return nil
	})
	n.Start(kitchen)
	n.Start(New())

	items := []Item{{Dish: "margherita", Quantity: 2}, {Dish: "funghi", Quantity: 1}}
	var reply PlaceReply
	if err := n.Call(context.Background(), "order.place", PlaceRequest{Items: items}, &reply); err != nil {
		t.Fatalf("Task 1: order.place failed: %v\nIt must emit the event and then answer with the order's id.", err)
	}

	var status hive.Status
	if err := n.Call(context.Background(), "order.status", nil, &status); err != nil {
		t.Fatalf("call order.status: %v", err)
	}
	if status.EventsEmitted == 0 {
		t.Fatalf("Task 1: order.place answered %+v, but emitted no event, so the kitchen never hears of the order.\n"+
			"In place (order/order.go), emit \"order.placed\" with o.svc.Emit before answering, its body an OrderPlaced.", reply)
	}

	select {
	case e := <-placed:
		if e.Body.OrderID != reply.OrderID || !slices.Equal(e.Body.Items, items) {
			t.Fatalf("Task 1: the \"order.placed\" event has the body %+v;\nwant the order id that order.place answered (%q) and the items ordered (%+v).", e.Body, reply.OrderID, items)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Task 1: order emitted an event, but no \"order.placed\" event came within 5s. Is its type \"order.placed\"?")
	}
}

// brokenBus is an event bus that has lost RabbitMQ: every Publish fails.
type brokenBus struct{ events.Bus }

func (brokenBus) Publish(ctx context.Context, e events.Event) error {
	return errors.New("no connection to RabbitMQ (the test's broken bus)")
}

func TestTask1_NoEventNoOrder(t *testing.T) {
	// This test needs no RabbitMQ: it runs on hive's in-memory event bus,
	// broken on purpose.
	n := hivetest.NewNetwork(t)
	cfg := n.Config()
	cfg.Bus = brokenBus{n.Bus}
	n.StartWith(New(), cfg)

	var reply PlaceReply
	err := n.Call(context.Background(), "order.place", PlaceRequest{Items: []Item{{Dish: "margherita", Quantity: 1}}}, &reply)
	if !errors.Is(err, hive.ErrUnavailable) {
		t.Fatalf("Task 1: when the \"order.placed\" event cannot be emitted, order.place must fail with hive.Unavailable; it answered %+v (error: %v).\n"+
			"Nobody will ever hear of that order, so it was not taken: if o.svc.Emit returns an error, return hive.Errorf(hive.Unavailable, ...) and say so.", reply, errOrNil(err))
	}
}

// The checks that were there from the start: an order needs items, and
// each item a dish and a quantity of at least 1.
func TestPlaceRejectsBadOrders(t *testing.T) {
	n := hivetest.NewNetwork(t)
	n.Start(New())

	for name, req := range map[string]PlaceRequest{
		"no items":   {},
		"no dish":    {Items: []Item{{Dish: " ", Quantity: 1}}},
		"quantity 0": {Items: []Item{{Dish: "margherita", Quantity: 0}}},
	} {
		err := n.Call(context.Background(), "order.place", req, nil)
		if !errors.Is(err, hive.ErrBadRequest) {
			t.Errorf("order.place with %s (%+v): got %v, want a hive.BadRequest error", name, req, errOrNil(err))
		}
	}
}

// errOrNil makes "no error" read as such in a failure message.
func errOrNil(err error) any {
	if err == nil {
		return "no error"
	}
	return err
}
