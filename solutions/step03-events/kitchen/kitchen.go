package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	// BEGIN SOLUTION
	"github.com/hive-workshop/microservices-go/hive/events"
	// END SOLUTION
)

// Item is one line of an order: a dish and how many of it.
type Item struct {
	Dish     string `json:"dish"`
	Quantity int    `json:"quantity"`
}

// OrderPlaced is the body of the "order.placed" event, as the order
// service sends it. The kitchen declares the fields it reads itself: the
// JSON is the contract between the services, not shared Go code.
type OrderPlaced struct {
	OrderID string `json:"order_id"`
	Items   []Item `json:"items"`
}

// OrderCooked is the body of the "order.cooked" event that the kitchen
// emits when an order is ready.
type OrderCooked struct {
	OrderID string `json:"order_id"`
	Kitchen string `json:"kitchen"` // the kitchen instance that cooked it
}

// DishSoldOut is the body of the "dish.sold_out" event: a dish that no
// kitchen can cook any more today. (Going further.)
type DishSoldOut struct {
	Dish string `json:"dish"`
}

// CookedOrder is an order this kitchen instance cooked.
type CookedOrder struct {
	OrderID string    `json:"order_id"`
	Items   []Item    `json:"items"`
	At      time.Time `json:"at"`
}

// CookedRequest is what kitchen.cooked takes: nothing, {}.
type CookedRequest struct{}

// CookedReply is what kitchen.cooked answers: which kitchen instance
// answered, and the orders it cooked, oldest first.
type CookedReply struct {
	Kitchen string        `json:"kitchen"`
	Orders  []CookedOrder `json:"orders"`
}

// recipes are the dishes the kitchen knows how to cook. Nothing changes
// the map after the program starts, so handlers can read it at the same
// time without a lock.
var recipes = map[string]bool{
	"margherita":       true,
	"marinara":         true,
	"funghi":           true,
	"quattro formaggi": true,
}

// Kitchen cooks the orders that the order service announces. Each instance
// remembers, in its memory, the orders it cooked.
type Kitchen struct {
	svc *hive.Service // to emit events with

	// hive runs several handlers at once, so mu guards what they share.
	mu      sync.Mutex
	cooked  []CookedOrder   // in the order they were cooked
	done    map[string]bool // the ids of the orders in cooked
	soldOut map[string]bool // the dishes sold out today (going further)
}

// New returns a kitchen service, ready for env.Run (in main) or for a test
// to start. Each call returns a new instance with an empty memory.
func New() *hive.Service {
	svc := hive.New("kitchen")
	// An empty list, not nil, so that kitchen.cooked answers [] rather
	// than null before the first order.
	k := &Kitchen{svc: svc, cooked: []CookedOrder{}, done: make(map[string]bool), soldOut: make(map[string]bool)}

	// TODO(step03) Task 2: subscribe k.cook to the "order.placed" events with hive.On.
	// BEGIN SOLUTION
	// All kitchen instances share one queue for this handler, so each
	// order is cooked by just one of them: competing consumers.
	hive.On(svc, "order.placed", k.cook)
	// END SOLUTION

	// TODO(step03) Going further: every kitchen instance, not just one, must hear of each "dish.sold_out" event: subscribe k.markSoldOut to them.
	// BEGIN SOLUTION
	// Broadcast: a queue for each instance, so that each instance gets
	// every event, as each must know what it cannot cook any more.
	hive.On(svc, "dish.sold_out", k.markSoldOut, hive.Broadcast())
	// END SOLUTION

	hive.Handle(svc, "cooked", k.listCooked)
	return svc
}

// cook handles an "order.placed" event: it cooks the order, once, and
// tells everyone with an "order.cooked" event.
//
// When cook returns nil, hive acknowledges the event: RabbitMQ deletes it.
// When cook returns an error, the event comes back a little later, a few
// times, and then moves to the dead-letter queue.
func (k *Kitchen) cook(ctx context.Context, e hive.Event[OrderPlaced]) error {
	order := e.Body

	// TODO(step03) Task 4: refuse an order the kitchen cannot cook (checkOrder says why): return an error, and hive moves the event to the dead-letter queue (at once, if you wrap the error in events.Permanent).
	// BEGIN SOLUTION
	if err := checkOrder(order); err != nil {
		// No retry can cure it: straight to the dead-letter queue.
		return events.Permanent(fmt.Errorf("cannot cook order %s: %w", order.OrderID, err))
	}
	// END SOLUTION

	// TODO(step03) Going further: refuse, for good, an order with a dish that is sold out (k.isSoldOut), with an error that names the order and the dish.
	// BEGIN SOLUTION
	for _, item := range order.Items {
		if k.isSoldOut(item.Dish) {
			// Not today, and not after a retry a second later either.
			return events.Permanent(fmt.Errorf("cannot cook order %s: %s is sold out", order.OrderID, item.Dish))
		}
	}
	// END SOLUTION

	if !k.remember(order) {
		// A duplicate: the same order arrived twice. Returning nil
		// acknowledges it, so that it is not delivered again.
		k.svc.Logger().InfoContext(ctx, "this order is cooked already: a duplicate delivery, not cooking it again", "order_id", order.OrderID)
		return nil
	}
	k.svc.Logger().InfoContext(ctx, "cooked", "order_id", order.OrderID, "items", order.Items)

	// TODO(step03) Task 2: emit "order.cooked" with an OrderCooked body (this kitchen's id is k.svc.ID()); if that fails, forget the order and return the error.
	// BEGIN SOLUTION
	cooked := OrderCooked{OrderID: order.OrderID, Kitchen: k.svc.ID()}
	if err := k.svc.Emit(ctx, "order.cooked", cooked); err != nil {
		// Nobody heard that the order is ready. Forget it, so that when
		// hive delivers the event again, we cook and announce it again,
		// instead of taking it for a duplicate and staying silent.
		k.forget(order.OrderID)
		return fmt.Errorf("order %s is cooked, but the announcement failed: %w", order.OrderID, err)
	}
	// END SOLUTION
	return nil
}

// remember records order as cooked, and reports whether it is new: false
// means this kitchen had cooked it already, and has not recorded it again.
func (k *Kitchen) remember(order OrderPlaced) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	// Looking and recording under one lock matters: hive may hand us both
	// copies of a duplicate at the same time.

	// TODO(step03) Task 3: if k.done has order.OrderID already, return false: a duplicate must not be cooked twice.
	// BEGIN SOLUTION
	if k.done[order.OrderID] {
		return false
	}
	// END SOLUTION
	k.done[order.OrderID] = true
	k.cooked = append(k.cooked, CookedOrder{OrderID: order.OrderID, Items: order.Items, At: time.Now().UTC()})
	return true
}

// markSoldOut handles a "dish.sold_out" event: from now on, this kitchen
// instance cooks no order with that dish.
func (k *Kitchen) markSoldOut(ctx context.Context, e hive.Event[DishSoldOut]) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.soldOut[e.Body.Dish] = true
	k.svc.Logger().InfoContext(ctx, "sold out", "dish", e.Body.Dish)
	return nil
}

// isSoldOut reports whether dish is sold out.
func (k *Kitchen) isSoldOut(dish string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.soldOut[dish]
}

// forget removes an order that remember recorded.
func (k *Kitchen) forget(orderID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.done, orderID)
	k.cooked = slices.DeleteFunc(k.cooked, func(c CookedOrder) bool { return c.OrderID == orderID })
}

// listCooked answers kitchen.cooked: the orders this instance cooked.
func (k *Kitchen) listCooked(ctx context.Context, _ CookedRequest) (CookedReply, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return CookedReply{Kitchen: k.svc.ID(), Orders: slices.Clone(k.cooked)}, nil
}

// checkOrder says why the kitchen cannot cook order, or returns nil if it
// can. An order that fails here will fail however often it is tried: a
// poison message.
func checkOrder(order OrderPlaced) error {
	if len(order.Items) == 0 {
		return errors.New("it has no items")
	}
	for _, item := range order.Items {
		if !recipes[item.Dish] {
			return fmt.Errorf("the kitchen has no recipe for %q", item.Dish)
		}
		if item.Quantity < 1 {
			return fmt.Errorf("%d × %s is not something to cook; the quantity must be at least 1", item.Quantity, item.Dish)
		}
	}
	return nil
}
