package main

import (
	"context"
	"crypto/rand"
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

	// TODO(step02) Task 4: log "order placed" with the order's id and total,
	// with o.svc.Logger().InfoContext, so that the line carries ctx's trace id.
	return reply, nil
}

// dish asks menu for one dish. This is where order talks to menu, so this
// is also where menu's failures become order's own errors: the caller of
// order.place should never need to know that a menu exists.
func (o *orders) dish(ctx context.Context, id int) (dish, error) {
	// TODO(step02) Task 3: give this lookup a deadline of its own, at most
	// menuTimeout from now. Make it from ctx, so that the caller's deadline
	// and trace id still apply.

	var d dish
	// TODO(step02) Task 1: ask menu for the dish: call
	// "menu.get" with o.svc.Call, and decode the answer
	// into d.
	err := hive.Errorf(hive.Internal, "menu.get is not called yet: see TODO(step02) Task 1 in order/order.go")
	// TODO(step02) Going further: when menu fails (but not with NotFound:
	// then the dish is gone), answer with the dish as order last saw it,
	// if it did; keep what menu answers in o.lastSeen, under o.mu.
	if err != nil {
		// TODO(step02) Task 2: turn menu's error into one for order's
		// caller. NotFound becomes BadRequest ("dish 42 is not on the
		// menu"); anything else becomes Unavailable, in order's own words.
		return dish{}, err
	}
	return d, nil
}
