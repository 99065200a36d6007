package main

import (
	"context"
	"errors"
	"testing"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// These tests check the menu that order calls. menu has no tasks: read it,
// it is the service order talks to.

func TestGetFindsADish(t *testing.T) {
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
	n := hivetest.NewNetwork(t)
	n.Start(New())

	err := n.Call(context.Background(), "menu.get", GetRequest{DishID: 42}, &Dish{})
	if !errors.Is(err, hive.ErrNotFound) {
		t.Fatalf("menu.get dish 42 = %v, want a hive.NotFound error", err)
	}
}

func TestListShowsAllDishesInOrder(t *testing.T) {
	n := hivetest.NewNetwork(t)
	n.Start(New())

	var reply ListReply
	if err := n.Call(context.Background(), "menu.list", ListRequest{}, &reply); err != nil {
		t.Fatalf("menu.list: %v", err)
	}
	if len(reply.Dishes) == 0 {
		t.Fatal("menu.list answered no dishes")
	}
	for i, d := range reply.Dishes {
		if d.ID != i+1 || d.Name == "" || d.PriceCents <= 0 {
			t.Errorf("menu.list: dish %d is %+v; want IDs 1, 2, 3, ... each with a name and a price", i, d)
		}
	}
}

func TestMethodsAreIdempotent(t *testing.T) {
	n := hivetest.NewNetwork(t)
	n.Start(New())

	var got hive.Inspection
	if err := n.Call(context.Background(), "menu.inspect", nil, &got); err != nil {
		t.Fatalf("menu.inspect: %v", err)
	}
	idempotent := make(map[string]bool)
	for _, m := range got.Methods {
		idempotent[m.Name] = m.Idempotent
	}
	for _, name := range []string{"get", "list"} {
		if !idempotent[name] {
			t.Errorf("menu.inspect: method %s is not declared idempotent; methods: %+v", name, got.Methods)
		}
	}
}
