package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// order has no tasks in this step. This test shows what discovery buys:
// order does not know where the menus are, or how many there are. When one
// menu stops, order carries on with the other, and nobody reconfigures
// anything.

// fakeMenu is a service called "menu" that answers menu.get for any dish,
// and counts the calls it answered.
func fakeMenu(calls *atomic.Int64) *hive.Service {
	svc := hive.New("menu")
	hive.Handle(svc, "get", func(ctx context.Context, req dishRequest) (dish, error) {
		calls.Add(1)
		return dish{ID: req.DishID, Name: "Margherita", PriceCents: 850}, nil
	}, hive.Idempotent())
	return svc
}

// standInKitchen is a service called "kitchen" that takes the
// "order.placed" events. Without a subscriber, order.place fails: no
// kitchen would ever hear of the order.
func standInKitchen() *hive.Service {
	svc := hive.New("kitchen")
	hive.On(svc, "order.placed", func(context.Context, hive.Event[OrderPlaced]) error { return nil })
	return svc
}

func TestOrderCarriesOnWhenAMenuStops(t *testing.T) {
	t.Parallel()
	n := brokertest.NewZooKeeperNetwork(t) // real ZooKeeper
	var callsA, callsB atomic.Int64
	menuA := n.Start(fakeMenu(&callsA))
	n.Start(fakeMenu(&callsB))
	n.Start(standInKitchen())
	n.Start(New())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	place := func() {
		t.Helper()
		var reply PlaceReply
		req := PlaceRequest{Items: []Item{{DishID: 3, Quantity: 2}}}
		if err := n.Call(ctx, "order.place", req, &reply); err != nil {
			t.Fatalf("order.place: %v", err)
		}
		if reply.TotalCents != 1700 {
			t.Fatalf("order.place: total %d cents, want 1700", reply.TotalCents)
		}
	}

	// With two menus, order's calls take turns.
	for range 4 {
		place()
	}
	if callsA.Load() == 0 || callsB.Load() == 0 {
		t.Fatalf("order called menu A %d times and menu B %d times; hive's client should take turns", callsA.Load(), callsB.Load())
	}

	// Menu A stops. It leaves the registry first, so order soon stops
	// calling it; a call that still goes there finds nobody listening,
	// and hive tries menu B instead.
	if err := menuA.Stop(ctx); err != nil {
		t.Fatalf("stop menu A: %v", err)
	}
	beforeA, beforeB := callsA.Load(), callsB.Load()
	for range 4 {
		place()
	}
	if got := callsA.Load() - beforeA; got != 0 {
		t.Errorf("menu A answered %d calls after it stopped", got)
	}
	if got := callsB.Load() - beforeB; got != 4 {
		t.Errorf("menu B answered %d of the 4 calls after menu A stopped, want all 4", got)
	}
}
