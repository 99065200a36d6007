// Package menu is the menu service: it knows the dishes and their prices.
// It has no task in this step; it is the service that order calls, and
// that you watch the picker spread calls over.
package menu

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/env"
)

// GetRequest asks menu.get for one dish: {"dish_id": 3}.
type GetRequest struct {
	DishID int `json:"dish_id"`
}

// Dish is one dish on the menu, as menu.get answers it:
//
//	{"id": 3, "name": "margherita", "price_cents": 850}
type Dish struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PriceCents int    `json:"price_cents"`
}

// Options change how a menu instance behaves. The zero value is a quick
// menu.
type Options struct {
	// Delay makes every lookup take this long: a slow instance, to watch
	// what the picker of task 1 does with it.
	Delay time.Duration
}

// New returns a menu service.
func New(opts Options) *hive.Service {
	m := &menu{opts: opts, dishes: []Dish{
		{ID: 1, Name: "margherita", PriceCents: 850},
		{ID: 2, Name: "marinara", PriceCents: 750},
		{ID: 3, Name: "funghi", PriceCents: 950},
		{ID: 4, Name: "quattro formaggi", PriceCents: 1150},
		{ID: 5, Name: "tiramisu", PriceCents: 600},
	}}
	m.svc = hive.New("menu")
	// Looking up a dish changes nothing, so it is safe to ask twice:
	// Idempotent lets hive's client try another menu after any failure.
	hive.Handle(m.svc, "get", m.get, hive.Idempotent())
	return m.svc
}

// Run runs one menu instance as a process, until SIGINT or SIGTERM:
// cmd/bee calls it for `bee menu`. MENU_DELAY (such as 100ms) makes the
// instance slow.
func Run() error {
	var opts Options
	if s := os.Getenv("MENU_DELAY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("MENU_DELAY=%q: want a duration, such as 100ms: %w", s, err)
		}
		opts.Delay = d
	}
	return env.Run(New(opts))
}

// menu is the card. Nothing changes it after New, so many calls can read it
// at the same time without a lock.
type menu struct {
	svc    *hive.Service
	opts   Options
	dishes []Dish
}

// get answers menu.get.
func (m *menu) get(ctx context.Context, req GetRequest) (Dish, error) {
	if m.opts.Delay > 0 {
		select {
		case <-time.After(m.opts.Delay):
		case <-ctx.Done():
			return Dish{}, hive.Errorf(hive.Timeout, "the caller gave up while the menu was slow")
		}
	}
	for _, d := range m.dishes {
		if d.ID == req.DishID {
			return d, nil
		}
	}
	return Dish{}, hive.Errorf(hive.NotFound, "there is no dish %d", req.DishID)
}
