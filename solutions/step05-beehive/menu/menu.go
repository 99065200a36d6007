// Package menu is the menu service: it knows the dishes and their prices.
// It has no task in this step; it is the service that order calls, and
// that you watch the picker spread calls over.
package menu

import (
	"context"
	"fmt"
	"os"
	"strings"
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
//
// Menu 2 (Options.Version 2.x.y) answers with the price as an amount and
// a currency, and without price_cents: a change that breaks a caller that
// reads price_cents, the case for version ranges (README, "Try this: a
// rolling deploy"):
//
//	{"id": 3, "name": "margherita", "price": {"amount": "8.50", "currency": "EUR"}}
type Dish struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PriceCents int    `json:"price_cents,omitempty"` // menu 1
	Price      *Price `json:"price,omitempty"`       // menu 2
}

// Price is a price as menu 2 gives it.
type Price struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// version is the version of a menu started without Options.Version.
const version = "1.0.0"

// Options change how a menu instance behaves. The zero value is a quick
// menu.
type Options struct {
	// Delay makes every lookup take this long: a slow instance, to watch
	// what the picker of task 1 does with it.
	Delay time.Duration

	// Version is the version the instance registers; default 1.0.0. A
	// version 2.x.y answers menu.get in menu 2's shape (see Dish).
	Version string
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
	if opts.Version == "" {
		m.opts.Version = version
	}
	m.svc.SetVersion(m.opts.Version)
	// Looking up a dish changes nothing, so it is safe to ask twice:
	// Idempotent lets hive's client try another menu after any failure.
	hive.Handle(m.svc, "get", m.get, hive.Idempotent())
	return m.svc
}

// Run runs one menu instance as a process, until SIGINT or SIGTERM:
// cmd/bee calls it for `bee menu`. MENU_DELAY (such as 100ms) makes the
// instance slow; MENU_VERSION (such as 2.0.0) sets its version.
func Run() error {
	var opts Options
	if s := os.Getenv("MENU_DELAY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("MENU_DELAY=%q: want a duration, such as 100ms: %w", s, err)
		}
		opts.Delay = d
	}
	opts.Version = os.Getenv("MENU_VERSION")
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
			if strings.HasPrefix(strings.TrimPrefix(m.opts.Version, "v"), "2.") {
				d.Price = &Price{Amount: fmt.Sprintf("%d.%02d", d.PriceCents/100, d.PriceCents%100), Currency: "EUR"}
				d.PriceCents = 0
			}
			return d, nil
		}
	}
	return Dish{}, hive.Errorf(hive.NotFound, "there is no dish %d", req.DishID)
}
