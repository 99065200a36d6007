package main

import (
	"context"
	"errors"
	"testing"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// menu has no tasks in this step: it is the service that order calls, and
// that you stop to see order carry on.

func TestGetFindsADish(t *testing.T) {
	t.Parallel()
	n := hivetest.NewNetwork(t)
	n.Start(New())

	var d Dish
	if err := n.Call(context.Background(), "menu.get", GetRequest{DishID: 3}, &d); err != nil {
		t.Fatalf("menu.get dish 3: %v", err)
	}
	if want := (Dish{ID: 3, Name: "Margherita", PriceCents: 850}); d != want {
		t.Fatalf("menu.get dish 3 = %+v, want %+v", d, want)
	}
}

func TestGetUnknownDishIsNotFound(t *testing.T) {
	t.Parallel()
	n := hivetest.NewNetwork(t)
	n.Start(New())

	err := n.Call(context.Background(), "menu.get", GetRequest{DishID: 42}, &Dish{})
	if !errors.Is(err, hive.ErrNotFound) {
		t.Fatalf("menu.get dish 42 = %v, want a hive.NotFound error", err)
	}
}
