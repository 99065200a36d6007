package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// These tests run the kitchen on real RabbitMQ (`make up` starts it), in
// this test process. The other services are not here: the tests play their
// parts. They emit "order.placed" events as the order service would, and
// listen for "order.cooked" events as the notifier would. That is all the
// kitchen knows of them anyway: the events.

func TestTask2_KitchenCooksPlacedOrders(t *testing.T) {
	n := hivetest.NewBrokerNetwork(t)
	cookedEvents := listen(t, n, "order.cooked")
	kitchen := n.Start(New())
	orders := n.Start(hive.New("order")) // plays the order service
	if !subscribes(t, n, "kitchen", "order.placed") {
		t.Fatal("Task 2: the kitchen does not listen to \"order.placed\" events.\n" +
			"In New (kitchen/kitchen.go), subscribe the cook method to them: hive.On(svc, \"order.placed\", k.cook).")
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
			"At the end of cook (kitchen/kitchen.go), emit one with k.svc.Emit(ctx, \"order.cooked\", OrderCooked{...}).")
	}

	got := cooked(t, n, kitchen)
	if len(got.Orders) != 1 || got.Orders[0].OrderID != placed.OrderID {
		t.Fatalf("Task 2: kitchen.cooked answers %+v; want just the order %q.", got.Orders, placed.OrderID)
	}
}

// Two kitchen instances share one queue, hive.kitchen.order.placed:
// RabbitMQ hands each order to one of them. They compete for the work, so
// they are called competing consumers.
func TestTask2_TwoKitchensShareTheOrders(t *testing.T) {
	n := hivetest.NewBrokerNetwork(t)
	kitchens := []*hive.Service{n.Start(New()), n.Start(New())}
	orders := n.Start(hive.New("order"))
	if !subscribes(t, n, "kitchen", "order.placed") {
		t.Fatal("Task 2: the kitchen does not listen to \"order.placed\" events.\n" +
			"In New (kitchen/kitchen.go), subscribe the cook method to them: hive.On(svc, \"order.placed\", k.cook).")
	}

	const count = 20
	for i := range count {
		emit(t, orders, OrderPlaced{OrderID: fmt.Sprintf("order-%02d", i), Items: []Item{{Dish: "funghi", Quantity: 1}}})
	}

	// timesCooked counts how often each order was cooked, in both kitchens.
	timesCooked := func() map[string]int {
		times := make(map[string]int)
		for _, k := range kitchens {
			for _, o := range cooked(t, n, k).Orders {
				times[o.OrderID]++
			}
		}
		return times
	}
	if !eventually(5*time.Second, func() bool { return len(timesCooked()) == count }) {
		t.Fatalf("Task 2: two kitchens cooked %d of %d orders within 5s; want all of them.\n"+
			"cook must return nil once it cooked an order.", len(timesCooked()), count)
	}
	for id, times := range timesCooked() {
		if times != 1 {
			t.Errorf("Task 2: order %s was cooked %d times by the two kitchens; want once.", id, times)
		}
	}
	for _, k := range kitchens {
		mine := len(cooked(t, n, k).Orders)
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
	n := hivetest.NewBrokerNetwork(t)
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
	handledBoth := eventually(5*time.Second, func() bool {
		err := n.Client().CallInstance(context.Background(), instanceOf(kitchen), "status", nil, &status)
		return err == nil && status.EventsHandled+status.EventsFailed >= 2
	})
	if !handledBoth {
		t.Fatalf("Task 3: the kitchen handled %d of the 2 copies of the event within 5s; want both.", status.EventsHandled+status.EventsFailed)
	}
	times := 0
	for _, o := range cooked(t, n, kitchen).Orders {
		if o.OrderID == "order-twice" {
			times++
		}
	}
	if times != 1 {
		t.Fatalf("Task 3: the same event came twice, and the kitchen cooked order-twice %d times; want once.\n"+
			"In remember (kitchen/kitchen.go), return false when k.done has the order's id already; cook then acknowledges the duplicate without cooking it.", times)
	}
	if status.EventsFailed > 0 {
		t.Fatalf("Task 3: the kitchen failed %d of the 2 deliveries; a duplicate must be acknowledged (cook returns nil), or it comes back again and again.", status.EventsFailed)
	}
}

// A poison message is one that fails however often it is tried. The
// kitchen refuses it; hive tries it a few times (3, in tests) and then
// moves it to the dead-letter queue, hive.kitchen.order.placed.dead, where
// it waits for a person to look at it. Meanwhile, the other orders go on.
func TestTask4_PoisonOrdersEndInTheDeadLetterQueue(t *testing.T) {
	n := hivetest.NewBrokerNetwork(t)
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

	cookedIDs := func() map[string]bool {
		ids := make(map[string]bool)
		for _, o := range cooked(t, n, kitchen).Orders {
			ids[o.OrderID] = true
		}
		return ids
	}
	if !eventually(5*time.Second, func() bool { return cookedIDs()[good.OrderID] }) {
		t.Fatalf("Task 4: the kitchen did not cook the good order %s within 5s; it was sent after two orders that the kitchen cannot cook.\n"+
			"The poison orders must not stop the kitchen: return their error from cook, and hive moves them out of the way.", good.OrderID)
	}
	for _, order := range poison {
		if cookedIDs()[order.OrderID] {
			t.Errorf("Task 4: the kitchen cooked order %s (%+v), which it cannot cook.\n"+
				"At the start of cook (kitchen/kitchen.go), return the error of checkOrder, with the order's id: hive then tries again a few times, and gives up.", order.OrderID, order.Items)
		}
	}
	if t.Failed() {
		return
	}

	// In the dead-letter queue, each poison event comes with the reason
	// why hive gave up on it: the error that cook returned.
	var reasons map[string]string // by order id
	allDead := func() bool {
		reasons = deadLetters(t, n, "kitchen", "order.placed")
		for _, order := range poison {
			if _, ok := reasons[order.OrderID]; !ok {
				return false
			}
		}
		return true
	}
	if !eventually(10*time.Second, allDead) {
		t.Fatalf("Task 4: after 10s, the dead-letter queue holds %d events, and not all %d poison orders: %v.\n"+
			"cook must return an error for them, every time they are tried.", len(reasons), len(poison), reasons)
	}
	for _, order := range poison {
		if reason := reasons[order.OrderID]; !strings.Contains(reason, order.OrderID) {
			t.Errorf("Task 4: order %s is in the dead-letter queue with the reason %q, which does not name the order.\n"+
				"Put the order's id into cook's error, as in fmt.Errorf(\"cannot cook order %%s: %%w\", order.OrderID, err): a person will read it.", order.OrderID, reason)
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

// cooked asks one kitchen instance what it cooked.
func cooked(t *testing.T, n *hivetest.Network, kitchen *hive.Service) CookedReply {
	t.Helper()
	var reply CookedReply
	if err := n.Client().CallInstance(context.Background(), instanceOf(kitchen), "cooked", CookedRequest{}, &reply); err != nil {
		t.Fatalf("call kitchen.cooked on %s: %v", kitchen.ID(), err)
	}
	return reply
}

// instanceOf returns what a client needs to call svc itself, rather than
// any instance of its service.
func instanceOf(svc *hive.Service) registry.Instance {
	return registry.Instance{ID: svc.ID(), Service: svc.Name(), Endpoint: svc.Endpoint()}
}

// deadLetters returns what is in the dead-letter queue of a handler: the
// reason each order was given up on, by order id.
func deadLetters(t *testing.T, n *hivetest.Network, service, pattern string) map[string]string {
	t.Helper()
	// Both event buses, on RabbitMQ and in memory, can list their dead
	// letters; the events.Bus interface does not promise it.
	bus, ok := n.Bus.(interface {
		DeadLetters(context.Context, events.Subscription) ([]events.DeadLetter, error)
	})
	if !ok {
		t.Fatalf("the test's event bus, a %T, cannot list its dead letters", n.Bus)
	}
	// hive names a handler's queues after its service and its pattern.
	letters, err := bus.DeadLetters(context.Background(), events.Subscription{Service: service, Name: pattern, Pattern: pattern})
	if err != nil {
		t.Fatalf("read the dead letters: %v", err)
	}
	reasons := make(map[string]string)
	for _, letter := range letters {
		var order OrderPlaced
		if err := json.Unmarshal(letter.Event.Body, &order); err == nil {
			reasons[order.OrderID] = letter.Reason
		}
	}
	return reasons
}

// eventually calls done every 20ms, until it returns true or until the
// time is up; it reports whether done returned true. Tests wait with it
// for what happens in other goroutines, instead of sleeping for a guess.
func eventually(within time.Duration, done func() bool) bool {
	deadline := time.After(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-deadline:
			return false
		case <-tick.C:
		}
	}
	return true
}
