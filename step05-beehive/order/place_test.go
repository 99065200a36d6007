package order

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"

	"github.com/hive-workshop/microservices-go/step05-beehive/ledger"
)

// fakeMenu is a service called "menu" that knows every dish, at 5 euros.
func fakeMenu() *hive.Service {
	svc := hive.New("menu")
	hive.Handle(svc, "get", func(ctx context.Context, req dishRequest) (dish, error) {
		return dish{ID: req.DishID, Name: "margherita", PriceCents: 500}, nil
	}, hive.Idempotent())
	return svc
}

// standInKitchen is a service called "kitchen" that takes "order.placed"
// events and does nothing with them. Without a subscriber to that event,
// order.place fails: no kitchen would ever hear of the order.
func standInKitchen() *hive.Service {
	svc := hive.New("kitchen")
	hive.On(svc, "order.placed", func(context.Context, hive.Event[OrderPlaced]) error { return nil })
	return svc
}

// twoOrders starts a menu, a stand-in kitchen and two order instances on
// real brokers. Each
// order instance has a ledger connection of its own, as it would in a
// process of its own: what they share, they share through ZooKeeper.
func twoOrders(t *testing.T) (n *hivetest.Network, a, b registry.Instance) {
	t.Helper()
	n = brokertest.NewNetwork(t)
	t.Cleanup(func() { // cleanups run last first: this one after the services and their ledgers are gone
		l, err := connectLedger(context.Background(), brokertest.ZooKeeper(t), n.Namespace, nil)
		if err == nil {
			l.DeleteNamespace(context.Background())
			l.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []registry.Instance
	for range 2 {
		l, err := connectLedger(ctx, brokertest.ZooKeeper(t), n.Namespace, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		svc := n.Start(New(l))
		ids = append(ids, registry.Instance{ID: svc.ID(), Service: "order", Endpoint: svc.Endpoint()})
	}
	n.Start(fakeMenu())
	n.Start(standInKitchen())
	return n, ids[0], ids[1]
}

// place calls order.place on one particular instance.
func place(t *testing.T, n *hivetest.Network, on registry.Instance, req PlaceRequest) (PlaceReply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var reply PlaceReply
	err := n.Client().CallInstance(ctx, on, "place", req, &reply)
	return reply, err
}

// emitted asks an order instance how many events it has emitted.
func emitted(t *testing.T, n *hivetest.Network, on registry.Instance) int64 {
	t.Helper()
	var status hive.Status
	if err := n.Client().CallInstance(context.Background(), on, "status", nil, &status); err != nil {
		t.Fatalf("%s.status: %v", on.ID, err)
	}
	return status.EventsEmitted
}

func TestTask2_TheSameKeyGivesTheSameOrderOnce(t *testing.T) {
	n, a, b := twoOrders(t)
	req := PlaceRequest{IdempotencyKey: "lunch-42", Items: []Item{{DishID: 3, Quantity: 2}}}

	first, err := place(t, n, a, req)
	if err != nil {
		t.Fatalf("order.place on %s: %v", a.ID, err)
	}
	again, err := place(t, n, a, req)
	if err != nil {
		t.Fatalf("order.place again on %s: %v", a.ID, err)
	}
	elsewhere, err := place(t, n, b, req)
	if err != nil {
		t.Fatalf("order.place on the other instance, %s: %v", b.ID, err)
	}
	if again.OrderID != first.OrderID || elsewhere.OrderID != first.OrderID {
		t.Fatalf("Task 2: the key %q was placed three times, twice on one order instance and once on the other, and made orders %s, %s and %s; want one order, three times.\n"+
			"In place (order/order.go), claim \"orders/\"+req.IdempotencyKey in o.ledger; when the key was claimed before, answer with the order stored there.",
			req.IdempotencyKey, first.OrderID, again.OrderID, elsewhere.OrderID)
	}
	if elsewhere != first {
		t.Errorf("Task 2: the answers differ: first %+v, then %+v; an order placed again must be answered the same way (go on with the order from o.earlier)", first, elsewhere)
	}
	if got := emitted(t, n, a) + emitted(t, n, b); got != 2 {
		t.Errorf("Task 2: one order, placed three times, made %d events; want 2, once each: its order.placed and its reminder, order.due. (announce sends both, once the order is the one from the ledger.)", got)
	}

	other, err := place(t, n, b, PlaceRequest{IdempotencyKey: "lunch-43", Items: req.Items})
	if err != nil {
		t.Fatalf("order.place: %v", err)
	}
	if other.OrderID == first.OrderID {
		t.Errorf("Task 2: the keys lunch-42 and lunch-43 gave the same order %s; another key is another order", other.OrderID)
	}
}

func TestTask2_AKeyCannotBeUsedForAnotherOrder(t *testing.T) {
	n, a, b := twoOrders(t)
	if _, err := place(t, n, a, PlaceRequest{IdempotencyKey: "dinner-7", Items: []Item{{DishID: 1, Quantity: 1}}}); err != nil {
		t.Fatalf("order.place: %v", err)
	}
	_, err := place(t, n, b, PlaceRequest{IdempotencyKey: "dinner-7", Items: []Item{{DishID: 4, Quantity: 9}}})
	if !errors.Is(err, hive.ErrConflict) {
		t.Fatalf("Task 2: the key dinner-7 came back with other items, and order.place answered %v; want a Conflict error: the key names an order that exists. "+
			"Go on with o.earlier(existing, req): it checks that.", err)
	}
	// The customer reads the message: it shows the key's order as they
	// sent it, in JSON, not as Go prints it.
	if want := `[{"dish_id":1,"quantity":1}]`; !strings.Contains(err.Error(), want) {
		t.Errorf("Task 2: the Conflict error %q does not show the key's items as the customer sent them (%s). Go on with o.earlier(existing, req): its error does.", err, want)
	}
}

// brokenLedger is a ledger whose claims of orders fail, as they do while
// ZooKeeper cannot be reached.
type brokenLedger struct{ ledger.Ledger }

func (l brokenLedger) Claim(ctx context.Context, key string, value []byte) ([]byte, bool, error) {
	if strings.HasPrefix(key, "orders/") {
		return nil, false, errors.New("zk: connection closed")
	}
	return l.Ledger.Claim(ctx, key, value)
}

func TestTask2_WhenTheLedgerFailsTheCustomerMayTryAgain(t *testing.T) {
	n := hivetest.NewNetwork(t) // in memory: no brokers needed, the ledger is the broken one
	svc := n.Start(New(brokenLedger{ledger.NewMemory()}))
	n.Start(fakeMenu())
	on := registry.Instance{ID: svc.ID(), Service: "order", Endpoint: svc.Endpoint()}
	_, err := place(t, n, on, PlaceRequest{IdempotencyKey: "lunch-44", Items: []Item{{DishID: 3, Quantity: 1}}})
	if !errors.Is(err, hive.ErrUnavailable) {
		t.Fatalf("Task 2: claiming the key in the ledger failed (zk: connection closed), and order.place answered %v; want an Unavailable error.\n"+
			"In place (order/order.go), when o.ledger.Claim returns an error, return hive.Errorf(hive.Unavailable, ...): the ledger failing is no fault of the customer's, and the customer sends the order again, with the same key (task 3).", err)
	}
}

// The idempotency key becomes part of a ZooKeeper path, so it must be a
// plain word.
func TestPlaceRefusesAKeyThatWillNotDo(t *testing.T) {
	n, a, _ := twoOrders(t)
	for _, key := range []string{"", "a/b", "with space", ".."} {
		_, err := place(t, n, a, PlaceRequest{IdempotencyKey: key, Items: []Item{{DishID: 1, Quantity: 1}}})
		if !errors.Is(err, hive.ErrBadRequest) || !strings.Contains(err.Error(), "idempotency_key") {
			t.Errorf("order.place with the key %q: got %v; want BadRequest, saying what is wrong with idempotency_key", key, err)
		}
	}
}
