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
type Dish struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PriceCents int    `json:"price_cents"`
}

// New returns the menu service: the menu of step 2, with menu.get only.
func New() *hive.Service {
	m := &menu{dishes: []Dish{
		{ID: 1, Name: "Bruschetta", PriceCents: 550},
		{ID: 2, Name: "Caprese salad", PriceCents: 750},
		{ID: 3, Name: "Margherita", PriceCents: 850},
		{ID: 4, Name: "Quattro formaggi", PriceCents: 1150},
		{ID: 5, Name: "Tiramisu", PriceCents: 600},
	}}
	m.svc = hive.New("menu")
	hive.Handle(m.svc, "get", m.get, hive.Idempotent())
	return m.svc
}

// menu is the card. Nothing changes it after New, so many calls can read it
// at the same time without a lock.
type menu struct {
	svc    *hive.Service
	dishes []Dish // ordered by ID
}

// get answers menu.get. It logs every lookup, so that with two menus
// running you can watch the calls alternate between them, and then go to
// the one left when you stop the other.
func (m *menu) get(ctx context.Context, req GetRequest) (Dish, error) {
	m.svc.Logger().InfoContext(ctx, "looking up a dish", "dish_id", req.DishID)
	for _, d := range m.dishes {
		if d.ID == req.DishID {
			return d, nil
		}
	}
	return Dish{}, hive.Errorf(hive.NotFound, "there is no dish %d", req.DishID)
}
