package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// These tests run the notifier on real RabbitMQ (`make up` starts it), in
// this test process, and play the other services: they emit the events
// that the order service and the kitchen would.

// One wildcard subscription, "order.*", brings every kind of order event.
func TestTask5_NotifiesEveryOrderEvent(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	n.Start(New())
	others := n.Start(hive.New("stand-in")) // plays the order service and the kitchen
	if !subscribes(t, n, "notifier", "order.*") {
		t.Fatal("Task 5: the notifier does not listen to \"order.*\" events.\n" +
			"In New (notifier/notifier.go), subscribe n.notify with hive.On to every order event: one pattern, \"order.*\", matches them all.")
	}

	emit(t, others, "order.placed", map[string]any{"order_id": "order-1", "items": []any{}})
	emit(t, others, "order.cooked", map[string]any{"order_id": "order-1", "kitchen": "kitchen-1"})
	emit(t, others, "order.delivered", map[string]any{"order_id": "order-1"}) // a type that the notifier does not know
	// No order event at all: no queue takes it, the notifier's included.
	if err := others.Emit(context.Background(), "menu.changed", map[string]any{"dish": "funghi"}); !errors.Is(err, events.ErrNoSubscriber) {
		t.Errorf("Task 5: a queue took a \"menu.changed\" event (emit said %v); the notifier should subscribe to \"order.*\" only.", err)
	}

	var status hive.Status
	err := hivetest.Eventually(5*time.Second, func() (err error) {
		if status, err = statusOf(n); err != nil {
			return err
		}
		if handled := status.EventsHandled + status.EventsFailed; handled < 3 {
			return fmt.Errorf("it handled %d of the 3 order events; want all 3", handled)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Task 5: the notifier did not handle the 3 order events within 5s: %v.", err)
	}
	if failed := status.EventsFailed; failed > 0 {
		t.Errorf("Task 5: the notifier failed %d events; want none. An event type it has no notification for (here \"order.delivered\") must be acknowledged: notify returns nil.\n"+
			"An error would send it round the retries into the dead-letter queue, for nothing.", failed)
	}

	want := []Notification{
		{OrderID: "order-1", Event: "order.placed", Text: "order order-1 placed"},
		{OrderID: "order-1", Event: "order.cooked", Text: "order order-1 is ready"},
	}
	got, err := sent(n)
	if err != nil {
		t.Fatal(err)
	}
	// The events may be handled at the same time, so in any order.
	same := len(got) == len(want)
	for _, w := range want {
		same = same && slices.Contains(got, w)
	}
	if !same {
		t.Fatalf("Task 5: notifier.sent answers\n  %+v\nwant\n  %+v\n"+
			"In notify (notifier/notifier.go), look at e.Type: call n.send with \"order <id> placed\" for \"order.placed\", with \"order <id> is ready\" for \"order.cooked\", and send nothing for other types.", got, want)
	}
}

// Fan-out: the kitchen and the notifier each have a queue of their own, so
// both get every "order.placed" event. Here a stand-in plays the kitchen.
func TestTask5_KitchenAndNotifierBothGetEveryOrder(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	n.Start(New())

	kitchenGot := make(chan string, 10)
	kitchen := hive.New("kitchen")
	hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[OrderEvent]) error {
		kitchenGot <- e.Body.OrderID
		return nil
	})
	n.Start(kitchen)
	orders := n.Start(hive.New("order"))
	if !subscribes(t, n, "notifier", "order.*") {
		t.Fatal("Task 5: the notifier does not listen to \"order.*\" events.\n" +
			"In New (notifier/notifier.go), subscribe n.notify with hive.On to every order event: one pattern, \"order.*\", matches them all.")
	}
	emit(t, orders, "order.placed", map[string]any{"order_id": "order-7"})

	select {
	case <-kitchenGot:
	case <-time.After(5 * time.Second):
		t.Fatal("the stand-in kitchen got no \"order.placed\" event within 5s")
	}
	err := hivetest.Eventually(5*time.Second, func() error {
		got, err := sent(n)
		if err == nil && len(got) != 1 {
			err = fmt.Errorf("it sent %+v; want one notification", got)
		}
		return err
	})
	if err != nil {
		t.Fatalf("Task 5: the kitchen got order-7, but the notifier did not send a notification for it within 5s: %v.\n"+
			"Every service that subscribes gets its own copy of each event. Subscribe n.notify to \"order.*\" in New (notifier/notifier.go).", err)
	}
}

// emit sends an event of type eventType from svc, which plays another
// service.
func emit(t *testing.T, svc *hive.Service, eventType string, body any) {
	t.Helper()
	if err := svc.Emit(context.Background(), eventType, body); err != nil {
		t.Fatalf("emit %s: %v", eventType, err)
	}
}

// The two helpers below return their call's error rather than stop the
// test, so that a wait (hivetest.Eventually) can try again a moment later.

// sent asks the notifier for the notifications it sent.
func sent(n *hivetest.Network) ([]Notification, error) {
	var reply SentReply
	if err := n.Call(context.Background(), "notifier.sent", SentRequest{}, &reply); err != nil {
		return nil, fmt.Errorf("call notifier.sent: %w", err)
	}
	return reply.Notifications, nil
}

// statusOf asks the notifier for its built-in status: counters of what it
// did, such as the events it handled.
func statusOf(n *hivetest.Network) (hive.Status, error) {
	var status hive.Status
	if err := n.Call(context.Background(), "notifier.status", nil, &status); err != nil {
		return status, fmt.Errorf("call notifier.status: %w", err)
	}
	return status, nil
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
