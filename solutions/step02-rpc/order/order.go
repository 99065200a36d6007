package main

import (
	"context"
	"crypto/rand"
	// BEGIN SOLUTION
	"errors"
	// END SOLUTION
	"sync"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
)

// PlaceRequest is what a caller sends to order.place:
//
//	{"items": [{"dish_id": 3, "quantity": 2}]}
type PlaceRequest struct {
	Items []Item `json:"items"`
}

// Item is one dish the caller wants, and how many of it.
type Item struct {
	DishID   int `json:"dish_id"`
	Quantity int `json:"quantity"`
}

// PlaceReply is what order.place answers:
//
//	{"order_id": "...", "lines": [...], "total_cents": 1700}
type PlaceReply struct {
	OrderID    string `json:"order_id"`
	Lines      []Line `json:"lines"`
	TotalCents int    `json:"total_cents"`
}

// Line is one priced line of an order.
type Line struct {
	DishID        int    `json:"dish_id"`
	Name          string `json:"name"`
	Quantity      int    `json:"quantity"`
	PriceCents    int    `json:"price_cents"`    // of one dish
	SubtotalCents int    `json:"subtotal_cents"` // PriceCents × Quantity
}

// dishRequest and dish are what menu.get takes and answers. order declares
// them itself rather than importing menu's Go code: services share a
// contract, the JSON, and nothing else. Each can then change its code, and
// be released, without the other.
type dishRequest struct {
	DishID int `json:"dish_id"`
}

type dish struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PriceCents int    `json:"price_cents"`
}

// menuTimeout is the longest order waits for menu to answer one lookup. The
// menu answers in about a millisecond when all is well; if it takes much
// longer, something is wrong, and order's caller deserves a quick answer
// rather than a long wait.
const menuTimeout = 300 * time.Millisecond

// New returns the order service.
func New() *hive.Service {
	svc := hive.New("order")
	o := &orders{svc: svc, lastSeen: make(map[int]dish)}
	hive.Handle(svc, "place", o.place)
	return svc
}

// orders holds what order's handlers need: the service itself, to call
// menu and to log.
type orders struct {
	svc *hive.Service

	// For going further: each dish as menu last described it, by id.
	// Calls of order.place run at the same time, so mu guards the map.
	mu       sync.Mutex
	lastSeen map[int]dish
}

// place answers order.place: it checks the items, looks up each dish on the
// menu, and adds up the order.
func (o *orders) place(ctx context.Context, req PlaceRequest) (PlaceReply, error) {
	reply := PlaceReply{OrderID: rand.Text()} // a random id that no other order gets

	// TODO(step02) Task 1: refuse an order without items,
	// or with a quantity below 1 (hive.BadRequest). Then
	// look up each dish with o.dish, and fill in
	// reply.Lines and reply.TotalCents.
	// BEGIN SOLUTION
	if len(req.Items) == 0 {
		return PlaceReply{}, hive.Errorf(hive.BadRequest, `the order has no items; send some, as in {"items": [{"dish_id": 3, "quantity": 2}]}`)
	}
	// Check every item before asking menu anything: a request that is
	// wrong is rejected without bothering another service.
	for _, item := range req.Items {
		if item.Quantity < 1 {
			return PlaceReply{}, hive.Errorf(hive.BadRequest, "dish %d has quantity %d; order 1 or more", item.DishID, item.Quantity)
		}
	}
	for _, item := range req.Items {
		d, err := o.dish(ctx, item.DishID)
		if err != nil {
			return PlaceReply{}, err // already an error for order's caller: see dish
		}
		line := Line{
			DishID:        d.ID,
			Name:          d.Name,
			Quantity:      item.Quantity,
			PriceCents:    d.PriceCents,
			SubtotalCents: d.PriceCents * item.Quantity,
		}
		reply.Lines = append(reply.Lines, line)
		reply.TotalCents += line.SubtotalCents
	}
	// END SOLUTION

	// TODO(step02) Task 4: log "order placed" with the order's id and total,
	// with o.svc.Logger().InfoContext, so that the line carries ctx's trace id.
	// BEGIN SOLUTION
	o.svc.Logger().InfoContext(ctx, "order placed", "order_id", reply.OrderID, "total_cents", reply.TotalCents)
	// END SOLUTION
	return reply, nil
}

// dish asks menu for one dish. This is where order talks to menu, so this
// is also where menu's failures become order's own errors: the caller of
// order.place should never need to know that a menu exists.
func (o *orders) dish(ctx context.Context, id int) (dish, error) {
	// TODO(step02) Task 3: give this lookup a deadline of its own, at most
	// menuTimeout from now. Make it from ctx, so that the caller's deadline
	// and trace id still apply.
	// BEGIN SOLUTION
	ctx, cancel := context.WithTimeout(ctx, menuTimeout)
	defer cancel() // frees the timer as soon as the lookup is over
	// END SOLUTION

	var d dish
	// TODO(step02) Task 1: ask menu for the dish: call
	// "menu.get" with o.svc.Call, and decode the answer
	// into d.
	// BEGIN SOLUTION
	err := o.svc.Call(ctx, "menu.get", dishRequest{DishID: id}, &d)
	// STUB
	// err := hive.Errorf(hive.Internal, "menu.get is not called yet: see TODO(step02) Task 1 in order/order.go")
	// END SOLUTION
	// TODO(step02) Going further: when menu fails (but not with NotFound:
	// then the dish is gone), answer with the dish as order last saw it,
	// if it did; keep what menu answers in o.lastSeen, under o.mu.
	// BEGIN SOLUTION
	if err == nil {
		o.mu.Lock()
		o.lastSeen[id] = d
		o.mu.Unlock()
	} else if !errors.Is(err, hive.ErrNotFound) {
		o.mu.Lock()
		last, seen := o.lastSeen[id]
		o.mu.Unlock()
		if seen {
			// A price that was right a moment ago beats no order at all.
			// The log says so, for whoever wonders why menu's outage
			// went unnoticed.
			o.svc.Logger().WarnContext(ctx, "menu.get failed; using the dish as last seen", "dish_id", id, "error", err)
			return last, nil
		}
	}
	// END SOLUTION
	if err != nil {
		// TODO(step02) Task 2: turn menu's error into one for order's
		// caller. NotFound becomes BadRequest ("dish 42 is not on the
		// menu"); anything else becomes Unavailable, in order's own words.
		// BEGIN SOLUTION
		if errors.Is(err, hive.ErrNotFound) {
			// menu does not know the dish. The caller of order.place
			// asked for it, so the mistake is the caller's.
			return dish{}, hive.Errorf(hive.BadRequest, "dish %d is not on the menu", id)
		}
		// menu is down, too slow, or broken. None of that is the
		// caller's mistake, nor a bug in order, and nothing was ordered:
		// a later try may work. The details (an address, a connection
		// error) mean nothing to the caller; they go into order's log,
		// under the trace id, for whoever looks into it.
		o.svc.Logger().WarnContext(ctx, "menu.get failed", "dish_id", id, "error", err)
		return dish{}, hive.Errorf(hive.Unavailable, "cannot look up dish %d: the menu is not available; try again later", id)
		// STUB
		// return dish{}, err
		// END SOLUTION
	}
	return d, nil
}
