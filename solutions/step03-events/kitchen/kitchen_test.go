package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// These tests run the kitchen on real RabbitMQ (`make up` starts it), in
// this test process. The other services are not here: the tests play their
// parts. They emit "order.placed" events as the order service would, and
// listen for "order.cooked" events as the notifier would. That is all the
// kitchen knows of them anyway: the events.

func TestTask2_KitchenCooksPlacedOrders(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	cookedEvents := listen(t, n, "order.cooked")
	kitchen := n.Start(New())
	orders := n.Start(hive.New("order")) // plays the order service
	if !subscribes(t, n, "kitchen", "order.placed") {
		t.Fatal("Task 2: the kitchen does not listen to \"order.placed\" events.\n" +
			"In New (kitchen/kitchen.go), subscribe the cook method to them with hive.On.")
	}

	placed := OrderPlaced{OrderID: "order-1", Items: []Item{{Dish: "margherita", Quantity: 2}}}
	emit(t, orders, placed)

	select {
	case e := <-cookedEvents:
		if e.Body.OrderID != placed.OrderID || e.Body.Kitchen != kitchen.ID() {
			t.Errorf("Task 2: the \"order.cooked\" event has the body %+v; want order_id %q and kitchen %q (k.svc.ID()).", e.Body, placed.OrderID, kitchen.ID())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Task 2: the kitchen cooked the order, but no \"order.cooked\" event came within 5s, so nobody knows it is ready.\n" +
			"At the end of cook (kitchen/kitchen.go), emit one with k.svc.Emit, its body an OrderCooked.")
	}

	got, err := cooked(n, kitchen)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].OrderID != placed.OrderID {
		t.Fatalf("Task 2: kitchen.cooked answers %+v; want just the order %q.", got, placed.OrderID)
	}
}

// Two kitchen instances share one queue, hive.kitchen.order.placed:
// RabbitMQ hands each order to one of them. They compete for the work, so
// they are called competing consumers.
func TestTask2_TwoKitchensShareTheOrders(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	listen(t, n, "order.cooked") // the news must reach someone, or the kitchen tries again
	kitchens := []*hive.Service{n.Start(New()), n.Start(New())}
	orders := n.Start(hive.New("order"))
	if !subscribes(t, n, "kitchen", "order.placed") {
		t.Fatal("Task 2: the kitchen does not listen to \"order.placed\" events.\n" +
			"In New (kitchen/kitchen.go), subscribe the cook method to them with hive.On.")
	}

	const count = 20
	for i := range count {
		emit(t, orders, OrderPlaced{OrderID: fmt.Sprintf("order-%02d", i), Items: []Item{{Dish: "funghi", Quantity: 1}}})
	}

	// The kitchens cook in goroutines of their own, so the test waits:
	// hivetest.Eventually asks them every 20ms which orders they cooked,
	// until they cooked all of them, or 5s have passed.
	timesCooked := make(map[string]int) // how often each order was cooked, in both kitchens
	byKitchen := make(map[*hive.Service]int)
	err := hivetest.Eventually(5*time.Second, func() error {
		clear(timesCooked)
		for _, k := range kitchens {
			orders, err := cooked(n, k)
			if err != nil {
				return err
			}
			byKitchen[k] = len(orders)
			for _, o := range orders {
				timesCooked[o.OrderID]++
			}
		}
		if got := len(timesCooked); got != count {
			return fmt.Errorf("they cooked %d of %d orders", got, count)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Task 2: two kitchens did not cook all %d orders within 5s: %v; want all of them.\n"+
			"cook must return nil once it cooked an order.", count, err)
	}
	for id, times := range timesCooked {
		if times != 1 {
			t.Errorf("Task 2: order %s was cooked %d times by the two kitchens; want once.", id, times)
		}
	}
	for _, k := range kitchens {
		mine := byKitchen[k]
		t.Logf("%s cooked %d of the %d orders", k.ID(), mine, count)
		if mine == 0 {
			t.Errorf("Task 2: kitchen %s cooked none of the %d orders; two kitchens on one queue should share them.", k.ID(), count)
		}
	}
}

// RabbitMQ delivers an event at least once: a kitchen that cooks an order
// and crashes before it acknowledges the event gets the same event again
// after its restart (or another kitchen does). The test sends the very same
// event twice, as that redelivery would.
func TestTask3_DuplicateEventIsCookedOnce(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	listen(t, n, "order.cooked") // the news must reach someone, or the kitchen tries again
	kitchen := n.Start(New())
	if !subscribes(t, n, "kitchen", "order.placed") {
		t.Fatal("Task 3: the kitchen does not listen to \"order.placed\" events yet: do task 2 first.")
	}

	body, _ := json.Marshal(OrderPlaced{OrderID: "order-twice", Items: []Item{{Dish: "marinara", Quantity: 1}}})
	e := events.Event{ID: "event-1", Type: "order.placed", Source: "test", Time: time.Now().UTC(), Body: body}
	for range 2 {
		if err := n.Bus.Publish(context.Background(), e); err != nil {
			t.Fatalf("publish the event: %v", err)
		}
	}

	// The kitchen's status counts the events it handled: both copies.
	var status hive.Status
	err := hivetest.Eventually(5*time.Second, func() (err error) {
		if status, err = statusOf(n, kitchen); err != nil {
			return err
		}
		if handled := status.EventsHandled + status.EventsFailed; handled < 2 {
			return fmt.Errorf("it handled %d of the 2 copies; want both", handled)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Task 3: the kitchen did not handle both copies of the event within 5s: %v.", err)
	}
	orders, err := cooked(n, kitchen)
	if err != nil {
		t.Fatal(err)
	}
	times := 0
	for _, o := range orders {
		if o.OrderID == "order-twice" {
			times++
		}
	}
	if times != 1 {
		t.Fatalf("Task 3: the same event came twice, and the kitchen cooked order-twice %d times; want once.\n"+
			"In remember (kitchen/kitchen.go), return false when k.done has the order's id already; cook then acknowledges the duplicate without cooking it.", times)
	}
	if failed := status.EventsFailed; failed > 0 {
		t.Fatalf("Task 3: the kitchen failed %d of the 2 deliveries; a duplicate must be acknowledged (cook returns nil), or it comes back again and again.", failed)
	}
}

// A poison message is one that fails however often it is tried. The
// kitchen refuses it, with events.Permanent, and hive moves it at once to
// the dead-letter queue, hive.kitchen.order.placed.dead, where it waits
// for a person to look at it. (A plain error gets there too, after
// hivetest.MaxAttempts tries.) Meanwhile, the other orders go on.
func TestTask4_PoisonOrdersEndInTheDeadLetterQueue(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	listen(t, n, "order.cooked") // the news must reach someone, or the kitchen tries again
	kitchen := n.Start(New())
	orders := n.Start(hive.New("order"))
	if !subscribes(t, n, "kitchen", "order.placed") {
		t.Fatal("Task 4: the kitchen does not listen to \"order.placed\" events yet: do task 2 first.")
	}

	poison := []OrderPlaced{
		{OrderID: "order-hawaii", Items: []Item{{Dish: "pizza hawaii", Quantity: 1}}}, // no recipe
		{OrderID: "order-zero", Items: []Item{{Dish: "margherita", Quantity: 0}}},     // nothing to cook
	}
	for _, order := range poison {
		emit(t, orders, order)
	}
	good := OrderPlaced{OrderID: "order-good", Items: []Item{{Dish: "margherita", Quantity: 1}}}
	emit(t, orders, good)

	ids := make(map[string]bool) // the orders cooked
	err := hivetest.Eventually(5*time.Second, func() error {
		orders, err := cooked(n, kitchen)
		if err != nil {
			return err
		}
		for _, o := range orders {
			ids[o.OrderID] = true
		}
		if !ids[good.OrderID] {
			return fmt.Errorf("it cooked %v", slices.Sorted(maps.Keys(ids)))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Task 4: within 5s, the kitchen did not cook the good order %s (%v); it was sent after two orders that the kitchen cannot cook.\n"+
			"The poison orders must not stop the kitchen: return their error from cook, and hive moves them out of the way.", good.OrderID, err)
	}
	for _, order := range poison {
		if ids[order.OrderID] {
			t.Errorf("Task 4: the kitchen cooked order %s (%+v), which it cannot cook.\n"+
				"At the start of cook (kitchen/kitchen.go), return the error of checkOrder with the order's id, wrapped in events.Permanent (from hive/events): no retry can cure it, so hive moves the event to the dead-letter queue at once.", order.OrderID, order.Items)
		}
	}
	if t.Failed() {
		return
	}

	// In the dead-letter queue, each poison event comes with the reason
	// why hive gave up on it: the error that cook returned.
	var reasons map[string]string
	err = hivetest.Eventually(10*time.Second, func() (err error) {
		if reasons, err = deadLetters(n); err != nil {
			return err
		}
		for _, order := range poison {
			if _, ok := reasons[order.OrderID]; !ok {
				return fmt.Errorf("the dead-letter queue holds %d events, and not all %d poison orders: %v", len(reasons), len(poison), reasons)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Task 4: the poison orders did not all reach the dead-letter queue within 10s: %v.\n"+
			"cook must return an error for them, every time they are tried (%d times).", err, hivetest.MaxAttempts)
	}
	for _, order := range poison {
		reason := reasons[order.OrderID]
		if !strings.Contains(reason, order.OrderID) {
			t.Errorf("Task 4: order %s is in the dead-letter queue with the reason %q, which does not name the order.\n"+
				"Put the order's id into cook's error (fmt.Errorf, with %%w to keep checkOrder's reason): a person will read it.", order.OrderID, reason)
		}
		// hive writes the reason (see PROTOCOL.md): "cannot be handled: ..."
		// for a permanent failure, "failed 3 times: ..." after the retries.
		if !strings.HasPrefix(reason, "cannot be handled: ") {
			t.Errorf("Task 4: order %s reached the dead letters after %d tries (the reason: %q); events.Permanent sends it there at once.\n"+
				"No retry can cure this order: wrap cook's error in events.Permanent (package hive/events).", order.OrderID, hivetest.MaxAttempts, reason)
		}
	}
}

// Orders that the kitchen can cook are cooked, with or without task 4.
func TestCheckOrderAcceptsGoodOrders(t *testing.T) {
	good := OrderPlaced{OrderID: "order-1", Items: []Item{{Dish: "margherita", Quantity: 2}, {Dish: "quattro formaggi", Quantity: 1}}}
	if err := checkOrder(good); err != nil {
		t.Fatalf("checkOrder(%+v) = %v, want nil", good, err)
	}
}

// emit sends an "order.placed" event from svc, which plays the order
// service.
func emit(t *testing.T, svc *hive.Service, order OrderPlaced) {
	t.Helper()
	if err := svc.Emit(context.Background(), "order.placed", order); err != nil {
		t.Fatalf("emit order.placed: %v", err)
	}
}

// listen starts a service that plays the notifier: it subscribes to the
// events of type eventType and sends each one to the channel it returns.
func listen(t *testing.T, n *hivetest.Network, eventType string) <-chan hive.Event[OrderCooked] {
	t.Helper()
	got := make(chan hive.Event[OrderCooked], 100)
	svc := hive.New("notifier")
	hive.On(svc, eventType, func(ctx context.Context, e hive.Event[OrderCooked]) error {
		select {
		case got <- e:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	n.Start(svc)
	return got
}

// subscribes reports whether service has a handler for pattern, as its
// built-in method inspect says.
func subscribes(t *testing.T, n *hivetest.Network, service, pattern string) bool {
	t.Helper()
	var got hive.Inspection
	if err := n.Call(context.Background(), service+".inspect", nil, &got); err != nil {
		t.Fatalf("call %s.inspect: %v", service, err)
	}
	for _, handler := range got.Events {
		if handler.Pattern == pattern {
			return true
		}
	}
	return false
}

// The helpers below return their call's error rather than stop the test,
// so that a wait (hivetest.Eventually) can try again a moment later.

// cooked asks one kitchen instance which orders it cooked.
func cooked(n *hivetest.Network, kitchen *hive.Service) ([]CookedOrder, error) {
	var reply CookedReply
	if err := n.Client().CallInstance(context.Background(), instanceOf(kitchen), "cooked", CookedRequest{}, &reply); err != nil {
		return nil, fmt.Errorf("call kitchen.cooked on %s: %w", kitchen.ID(), err)
	}
	return reply.Orders, nil
}

// statusOf asks one instance for its built-in status: counters of what it
// did, such as the events it handled.
func statusOf(n *hivetest.Network, svc *hive.Service) (hive.Status, error) {
	var status hive.Status
	if err := n.Client().CallInstance(context.Background(), instanceOf(svc), "status", nil, &status); err != nil {
		return status, fmt.Errorf("call %s.status on %s: %w", svc.Name(), svc.ID(), err)
	}
	return status, nil
}

// deadLetters returns what is in the dead-letter queue of the kitchen's
// "order.placed" handler: the reason each order was given up on, by order
// id.
func deadLetters(n *hivetest.Network) (map[string]string, error) {
	letters, err := n.DeadLetters(context.Background(), "kitchen", "order.placed")
	if err != nil {
		return nil, fmt.Errorf("read the kitchen's dead letters: %w", err)
	}
	reasons := make(map[string]string)
	for _, letter := range letters {
		var order OrderPlaced
		if err := json.Unmarshal(letter.Event.Body, &order); err == nil {
			reasons[order.OrderID] = letter.Reason
		}
	}
	return reasons, nil
}

// instanceOf returns what a client needs to call svc itself, rather than
// any instance of its service.
func instanceOf(svc *hive.Service) registry.Instance {
	return registry.Instance{ID: svc.ID(), Service: svc.Name(), Endpoint: svc.Endpoint()}
}

// Going further: the menu says that a dish is sold out, and every kitchen
// instance must know, not just one: a broadcast, where task 2's orders are
// shared. make further runs it.
func TestFurther_EveryKitchenHearsWhatIsSoldOut(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	listen(t, n, "order.cooked") // the news must reach someone, or the kitchen tries again
	kitchens := []*hive.Service{n.Start(New()), n.Start(New())}
	menu := n.Start(hive.New("menu")) // plays the menu service, which knows what is sold out
	orders := n.Start(hive.New("order"))

	err := menu.Emit(context.Background(), "dish.sold_out", DishSoldOut{Dish: "margherita"})
	if errors.Is(err, events.ErrNoSubscriber) {
		t.Fatal("Going further: no kitchen listens to \"dish.sold_out\" events.\n" +
			"In New (kitchen/kitchen.go), subscribe k.markSoldOut to them, so that every kitchen instance gets each one: see hive.Broadcast.")
	}
	if err != nil {
		t.Fatalf("emit dish.sold_out: %v", err)
	}
	heard := make(map[string]int) // sold-out events handled, by kitchen instance
	err = hivetest.Eventually(5*time.Second, func() error {
		for _, k := range kitchens {
			status, err := statusOf(n, k)
			if err != nil {
				return err
			}
			heard[k.ID()] = int(status.EventsHandled)
		}
		for _, k := range kitchens {
			if heard[k.ID()] == 0 {
				return fmt.Errorf("the kitchens handled %v", heard)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Going further: within 5s, not both kitchens heard that margherita is sold out (events handled, by kitchen: %v).\n"+
			"Without hive.Broadcast(), the kitchen instances share one queue, as they do for orders, and only one of them gets each event.", heard)
	}

	if !subscribes(t, n, "kitchen", "order.placed") {
		t.Fatal("Going further: the kitchen does not listen to \"order.placed\" events yet: do tasks 2 to 4 first.")
	}
	emit(t, orders, OrderPlaced{OrderID: "order-sold-out", Items: []Item{{Dish: "funghi", Quantity: 1}, {Dish: "margherita", Quantity: 1}}})
	var reasons map[string]string
	err = hivetest.Eventually(10*time.Second, func() (err error) {
		if reasons, err = deadLetters(n); err != nil {
			return err
		}
		if _, ok := reasons["order-sold-out"]; !ok {
			return fmt.Errorf("the dead-letter queue holds %v", reasons)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Going further: an order with a margherita, sold out, did not reach the dead-letter queue within 10s: %v.\n"+
			"In cook (kitchen/kitchen.go), when an item's dish is sold out (k.isSoldOut), return an error that names the order and the dish, wrapped in events.Permanent.", err)
	}
	if reason := reasons["order-sold-out"]; !strings.Contains(reason, "margherita") || !strings.Contains(reason, "order-sold-out") {
		t.Errorf("Going further: the sold-out order is in the dead-letter queue with the reason %q; want one that names the order and the dish, margherita.", reason)
	}
	for _, k := range kitchens {
		orders, err := cooked(n, k)
		if err != nil {
			t.Fatal(err)
		}
		if len(orders) > 0 {
			t.Errorf("Going further: kitchen %s cooked %+v; an order with a dish that is sold out must not be cooked at all.", k.ID(), orders)
		}
	}
}
