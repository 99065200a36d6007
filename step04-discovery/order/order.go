package main

import (
	"context"
	"crypto/rand"
	"errors"
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
//	{"order_id": "...", "total_cents": 1700}
type PlaceReply struct {
	OrderID    string `json:"order_id"`
	TotalCents int    `json:"total_cents"`
}

// OrderPlaced is the body of the "order.placed" event, which the kitchens
// get (step 3):
//
//	{"order_id": "...", "items": [{"dish": "Margherita", "quantity": 2}]}
type OrderPlaced struct {
	OrderID string       `json:"order_id"`
	Items   []PlacedItem `json:"items"`
}

// PlacedItem is one line of a placed order, by the dish's name.
type PlacedItem struct {
	Dish     string `json:"dish"`
	Quantity int    `json:"quantity"`
}

// dishRequest and dish are what menu.get takes and answers. order declares
// them itself: services share the JSON, not Go code.
type dishRequest struct {
	DishID int `json:"dish_id"`
}

type dish struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PriceCents int    `json:"price_cents"`
}

// menuTimeout is the longest order waits for menu to answer one lookup.
const menuTimeout = 300 * time.Millisecond

// New returns the order service: the order of steps 2 and 3, which prices
// an order with menu.get and announces it with an "order.placed" event.
func New() *hive.Service {
	svc := hive.New("order")
	o := &orders{svc: svc}
	hive.Handle(svc, "place", o.place)
	return svc
}

// orders holds what order's handlers need: the service itself, to call
// menu, emit events and log.
type orders struct {
	svc *hive.Service
}

// place answers order.place: it looks up each dish on the menu, adds up the
// order and announces it.
func (o *orders) place(ctx context.Context, req PlaceRequest) (PlaceReply, error) {
	if len(req.Items) == 0 {
		return PlaceReply{}, hive.Errorf(hive.BadRequest, `the order has no items; send some, as in {"items": [{"dish_id": 3, "quantity": 2}]}`)
	}
	reply := PlaceReply{OrderID: rand.Text()}
	placed := OrderPlaced{OrderID: reply.OrderID}
	for _, item := range req.Items {
		if item.Quantity < 1 {
			return PlaceReply{}, hive.Errorf(hive.BadRequest, "dish %d has quantity %d; order 1 or more", item.DishID, item.Quantity)
		}
		d, err := o.dish(ctx, item.DishID)
		if err != nil {
			return PlaceReply{}, err
		}
		reply.TotalCents += d.PriceCents * item.Quantity
		placed.Items = append(placed.Items, PlacedItem{Dish: d.Name, Quantity: item.Quantity})
	}
	if err := o.svc.Emit(ctx, "order.placed", placed); err != nil {
		return PlaceReply{}, hive.Errorf(hive.Unavailable, "the order was not taken, because the kitchen could not be told about it; try again later")
	}
	o.svc.Logger().InfoContext(ctx, "order placed", "order_id", reply.OrderID, "total_cents", reply.TotalCents)
	return reply, nil
}

// dish asks menu for one dish. Which menu instance answers is up to hive:
// it knows the live ones from the registry.
func (o *orders) dish(ctx context.Context, id int) (dish, error) {
	ctx, cancel := context.WithTimeout(ctx, menuTimeout)
	defer cancel()
	var d dish
	err := o.svc.Call(ctx, "menu.get", dishRequest{DishID: id}, &d)
	switch {
	case errors.Is(err, hive.ErrNotFound):
		return dish{}, hive.Errorf(hive.BadRequest, "dish %d is not on the menu", id)
	case err != nil:
		o.svc.Logger().WarnContext(ctx, "menu.get failed", "dish_id", id, "error", err)
		return dish{}, hive.Errorf(hive.Unavailable, "cannot look up dish %d: the menu is not available; try again later", id)
	}
	return d, nil
}
