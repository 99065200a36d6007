package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/hive-workshop/microservices-go/hive"
)

// Item is one line of an order: a dish and how many of it.
type Item struct {
	Dish     string `json:"dish"`
	Quantity int    `json:"quantity"`
}

// PlaceRequest is what a caller sends to order.place, as JSON:
//
//	{"items": [{"dish": "margherita", "quantity": 2}]}
type PlaceRequest struct {
	Items []Item `json:"items"`
}

// PlaceReply is what order.place answers, as JSON:
//
//	{"order_id": "order-3f9a1c2b"}
type PlaceReply struct {
	OrderID string `json:"order_id"`
}

// OrderPlaced is the body of the "order.placed" event. It is the contract
// between order and everyone who listens: the kitchen and the notifier
// declare the same JSON fields in their own code, and never import this
// type.
type OrderPlaced struct {
	OrderID string `json:"order_id"`
	Items   []Item `json:"items"`
}

// Order takes orders. In this step it keeps nothing: it checks an order,
// gives it an id and tells everyone about it with an event.
type Order struct {
	svc *hive.Service // to emit events with
}

// New returns the order service, ready for env.Run (in main) or for a test
// to start.
func New() *hive.Service {
	svc := hive.New("order")
	o := &Order{svc: svc}
	hive.Handle(svc, "place", o.place)
	return svc
}

// place answers order.place: it accepts an order, announces it with an
// "order.placed" event, and answers with the order's id.
func (o *Order) place(ctx context.Context, req PlaceRequest) (PlaceReply, error) {
	if len(req.Items) == 0 {
		return PlaceReply{}, hive.Errorf(hive.BadRequest, `the order has no items; send some, as in {"items": [{"dish": "margherita", "quantity": 2}]}`)
	}
	for i, item := range req.Items {
		if strings.TrimSpace(item.Dish) == "" {
			return PlaceReply{}, hive.Errorf(hive.BadRequest, "item %d has no dish", i+1)
		}
		if item.Quantity < 1 {
			return PlaceReply{}, hive.Errorf(hive.BadRequest, "item %d (%s) has quantity %d; order at least 1", i+1, item.Dish, item.Quantity)
		}
	}
	// The order service does not ask the menu whether the dishes exist:
	// this step is about events. So a dish nobody can cook gets through
	// here, and the kitchen has to deal with it (task 4).
	id := newOrderID()

	// TODO(step03) Task 1: emit "order.placed" with an
	// OrderPlaced body; if that fails, fail the call with
	// hive.Unavailable, because the order was not taken.
	return PlaceReply{OrderID: id}, nil
}

// newOrderID returns a new random order id, such as "order-3f9a1c2b".
// Random ids need no counter shared between order instances.
func newOrderID() string {
	b := make([]byte, 4)
	rand.Read(b) // never fails: see crypto/rand.Read
	return "order-" + hex.EncodeToString(b)
}
