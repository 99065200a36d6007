package menu

import (
	"context"
	"testing"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// A rolling deploy, on real ZooKeeper (README, "Try this: a rolling
// deploy"): menu 1.0.0 and 2.0.0 run side by side, and menu 2 answers
// without price_cents. A caller that asks for ^1 always gets price_cents;
// one that asks for ^2 always gets menu 2's price.
func TestMenusOneAndTwoSideBySide(t *testing.T) {
	n := brokertest.NewZooKeeperNetwork(t)
	n.Start(New(Options{}))
	n.Start(New(Options{Version: "2.0.0"}))
	ctx := context.Background()
	for range 6 { // the calls take turns over both menus
		var d Dish
		if err := n.Call(hive.WithVersion(ctx, "^1"), "menu.get", GetRequest{DishID: 3}, &d); err != nil {
			t.Fatalf("menu.get for ^1: %v", err)
		}
		if d.PriceCents != 950 || d.Price != nil {
			t.Fatalf("menu.get for ^1 answered %+v; want menu 1's price_cents, 950", d)
		}
		d = Dish{}
		if err := n.Call(hive.WithVersion(ctx, "^2"), "menu.get", GetRequest{DishID: 3}, &d); err != nil {
			t.Fatalf("menu.get for ^2: %v", err)
		}
		if d.Price == nil || *d.Price != (Price{Amount: "9.50", Currency: "EUR"}) || d.PriceCents != 0 {
			t.Fatalf("menu.get for ^2 answered %+v; want menu 2's price, 9.50 EUR", d)
		}
	}
}
