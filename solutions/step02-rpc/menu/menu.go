package main

import (
	"context"

	"github.com/hive-workshop/microservices-go/hive"
)

// GetRequest asks menu.get for one dish: {"dish_id": 3}.
type GetRequest struct {
	DishID int `json:"dish_id"`
}

// Dish is one dish on the menu, as menu.get answers it:
//
//	{"id": 3, "name": "Margherita", "price_cents": 850}
//
// Prices are whole cents, never float64: 0.1 + 0.2 is not 0.3 in floating
// point, and money must add up exactly.
type Dish struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PriceCents int    `json:"price_cents"`
}

// ListRequest asks menu.list for all dishes. It has no fields; it is a type
// of its own so that it can get some later without breaking callers.
type ListRequest struct{}

// ListReply is all dishes, ordered by ID. It wraps the list in an object,
// {"dishes": [...]}, for the same reason: room to grow.
type ListReply struct {
	Dishes []Dish `json:"dishes"`
}

// New returns the menu service.
func New() *hive.Service {
	m := &menu{dishes: []Dish{
		{ID: 1, Name: "Bruschetta", PriceCents: 550},
		{ID: 2, Name: "Caprese salad", PriceCents: 750},
		{ID: 3, Name: "Margherita", PriceCents: 850},
		{ID: 4, Name: "Quattro formaggi", PriceCents: 1150},
		{ID: 5, Name: "Tiramisu", PriceCents: 600},
	}}

	svc := hive.New("menu")
	// Reading the menu changes nothing, so asking twice is as good as
	// asking once: the methods are idempotent. That lets a caller's client
	// safely try another instance when one fails mid-call (step 5).
	hive.Handle(svc, "get", m.get, hive.Idempotent())
	hive.Handle(svc, "list", m.list, hive.Idempotent())
	return svc
}

// menu is the card. Nothing changes it after New, so many calls can read it
// at the same time without a lock.
type menu struct {
	dishes []Dish // ordered by ID
}

// get answers menu.get.
func (m *menu) get(ctx context.Context, req GetRequest) (Dish, error) {
	for _, d := range m.dishes {
		if d.ID == req.DishID {
			return d, nil
		}
	}
	return Dish{}, hive.Errorf(hive.NotFound, "there is no dish %d; menu.list shows them all", req.DishID)
}

// list answers menu.list.
func (m *menu) list(ctx context.Context, req ListRequest) (ListReply, error) {
	return ListReply{Dishes: m.dishes}, nil
}
