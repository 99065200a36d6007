package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	n := hivetest.NewRabbitMQNetwork(t)
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
	if len(got) != 1 || got[0].OrderID != placed.OrderID {
		t.Fatalf("Task 2: kitchen.cooked answers %+v; want just the order %q.", got, placed.OrderID)
	}
}

// Two kitchen instances share one queue, hive.kitchen.order.placed:
// RabbitMQ hands each order to one of them. They compete for the work, so
// they are called competing consumers.
func TestTask2_TwoKitchensShareTheOrders(t *testing.T) {
	n := hivetest.NewRabbitMQNetwork(t)
	listen(t, n, "order.cooked") // the news must reach someone, or the kitchen tries again
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
	timesCooked := func(t require.TestingT) map[string]int {
		times := make(map[string]int)
		for _, k := range kitchens {
			for _, o := range cooked(t, n, k) {
				times[o.OrderID]++
			}
		}
		return times
	}
	// The kitchens cook in goroutines of their own, so the test waits:
	// require.EventuallyWithT runs its function every 20ms until a run
	// reports no error, or fails the test after 5s with the errors of the
	// last run.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		if got := len(timesCooked(c)); got != count {
			c.Errorf("Task 2: two kitchens cooked %d of %d orders; want all of them.\n"+
				"cook must return nil once it cooked an order.", got, count)
		}
	}, 5*time.Second, 20*time.Millisecond, "Task 2: two kitchens did not cook all %d orders within 5s.", count)
	for id, times := range timesCooked(t) {
		if times != 1 {
			t.Errorf("Task 2: order %s was cooked %d times by the two kitchens; want once.", id, times)
		}
	}
	for _, k := range kitchens {
		mine := len(cooked(t, n, k))
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
	n := hivetest.NewRabbitMQNetwork(t)
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
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status := statusOf(c, n, kitchen)
		if handled := status.EventsHandled + status.EventsFailed; handled < 2 {
			c.Errorf("Task 3: the kitchen handled %d of the 2 copies of the event; want both.", handled)
		}
	}, 5*time.Second, 20*time.Millisecond, "Task 3: the kitchen did not handle both copies of the event within 5s.")
	times := 0
	for _, o := range cooked(t, n, kitchen) {
		if o.OrderID == "order-twice" {
			times++
		}
	}
	if times != 1 {
		t.Fatalf("Task 3: the same event came twice, and the kitchen cooked order-twice %d times; want once.\n"+
			"In remember (kitchen/kitchen.go), return false when k.done has the order's id already; cook then acknowledges the duplicate without cooking it.", times)
	}
	if failed := statusOf(t, n, kitchen).EventsFailed; failed > 0 {
		t.Fatalf("Task 3: the kitchen failed %d of the 2 deliveries; a duplicate must be acknowledged (cook returns nil), or it comes back again and again.", failed)
	}
}

// A poison message is one that fails however often it is tried. The
// kitchen refuses it, with events.Permanent, and hive moves it at once to
// the dead-letter queue, hive.kitchen.order.placed.dead, where it waits
// for a person to look at it. (A plain error gets there too, after
// hivetest.MaxAttempts tries.) Meanwhile, the other orders go on.
func TestTask4_PoisonOrdersEndInTheDeadLetterQueue(t *testing.T) {
	n := hivetest.NewRabbitMQNetwork(t)
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

	cookedIDs := func(t require.TestingT) map[string]bool {
		ids := make(map[string]bool)
		for _, o := range cooked(t, n, kitchen) {
			ids[o.OrderID] = true
		}
		return ids
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		if !cookedIDs(c)[good.OrderID] {
			c.Errorf("Task 4: the kitchen did not cook the good order %s; it was sent after two orders that the kitchen cannot cook.\n"+
				"The poison orders must not stop the kitchen: return their error from cook, and hive moves them out of the way.", good.OrderID)
		}
	}, 5*time.Second, 20*time.Millisecond, "Task 4: the good order was not cooked within 5s.")
	ids := cookedIDs(t)
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
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		reasons := deadLetters(c, n)
		for _, order := range poison {
			if _, ok := reasons[order.OrderID]; !ok {
				c.Errorf("Task 4: the dead-letter queue holds %d events, and not all %d poison orders: %v.\n"+
					"cook must return an error for them, every time they are tried (%d times).", len(reasons), len(poison), reasons, hivetest.MaxAttempts)
				return
			}
		}
	}, 10*time.Second, 20*time.Millisecond, "Task 4: the poison orders did not all reach the dead-letter queue within 10s.")
	reasons := deadLetters(t, n)
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

// The helpers below that take a require.TestingT work in a test and in a
// wait (require.EventuallyWithT): when their call fails, a test stops,
// and a wait tries again a moment later.

// cooked asks one kitchen instance which orders it cooked.
func cooked(t require.TestingT, n *hivetest.Network, kitchen *hive.Service) []CookedOrder {
	var reply CookedReply
	err := n.Client().CallInstance(context.Background(), instanceOf(kitchen), "cooked", CookedRequest{}, &reply)
	require.NoError(t, err, "call kitchen.cooked on %s", kitchen.ID())
	return reply.Orders
}

// statusOf asks one instance for its built-in status: counters of what it
// did, such as the events it handled.
func statusOf(t require.TestingT, n *hivetest.Network, svc *hive.Service) hive.Status {
	var status hive.Status
	err := n.Client().CallInstance(context.Background(), instanceOf(svc), "status", nil, &status)
	require.NoError(t, err, "call %s.status on %s", svc.Name(), svc.ID())
	return status
}

// deadLetters returns what is in the dead-letter queue of the kitchen's
// "order.placed" handler: the reason each order was given up on, by order
// id.
func deadLetters(t require.TestingT, n *hivetest.Network) map[string]string {
	letters, err := n.DeadLetters(context.Background(), "kitchen", "order.placed")
	require.NoError(t, err, "read the kitchen's dead letters")
	reasons := make(map[string]string)
	for _, letter := range letters {
		var order OrderPlaced
		if err := json.Unmarshal(letter.Event.Body, &order); err == nil {
			reasons[order.OrderID] = letter.Reason
		}
	}
	return reasons
}

// instanceOf returns what a client needs to call svc itself, rather than
// any instance of its service.
func instanceOf(svc *hive.Service) registry.Instance {
	return registry.Instance{ID: svc.ID(), Service: svc.Name(), Endpoint: svc.Endpoint()}
}
