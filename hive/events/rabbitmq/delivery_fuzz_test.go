package rabbitmq_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// FuzzDelivery puts any bytes into the body of a message on the bus's
// exchange, as a publisher that knows nothing of hive could, and watches
// what the Bus makes of it. An event envelope (one that events.Decode
// takes, of the type it was routed by) reaches the handler, as it was
// sent; anything else goes to the
// dead-letter queue with a reason that says it is not an event. Nothing
// panics, and every message ends one way or the other.
//
// It needs RabbitMQ, like the other tests here. The seeds are in
// testdata/fuzz/FuzzDelivery.
func FuzzDelivery(f *testing.F) {
	url, ns := brokertest.RabbitMQ(f), hivetest.Namespace(f)
	ctx := f.Context()
	bus, err := rabbitmq.New(ctx, url, rabbitmq.Options{Namespace: ns, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		bus.Close()
		if err := bus.DeleteNamespace(context.Background()); err != nil {
			f.Errorf("cleaning up the exchange and queues failed: %v", err)
		}
	})
	handled := make(chan events.Event, 1)
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := bus.Subscribe(ctx, s, func(_ context.Context, e events.Event) error {
		handled <- e
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(stop)

	// The plain client: it publishes the raw bytes, and reads the
	// dead-letter queue (named as the package comment says).
	conn, err := amqp.Dial(url)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		f.Fatal(err)
	}
	dead, err := ch.Consume(ns+".kitchen.orders.dead", "", true, false, false, false, nil)
	if err != nil {
		f.Fatal(err)
	}

	var sent int
	f.Fuzz(func(t *testing.T, body []byte) {
		sent++
		id := strconv.Itoa(sent) // tells this message's dead letter from an earlier one's
		msg := amqp.Publishing{MessageId: id, Body: body}
		if err := ch.PublishWithContext(ctx, ns, "order.placed", false, false, msg); err != nil {
			t.Fatalf("publish: %v", err)
		}

		// An event for this subscription: an envelope that Decode takes,
		// of the type it was routed by.
		want, err := events.Decode(body)
		isEvent := err == nil && want.Type == "order.placed"
		select {
		case got := <-handled:
			if !isEvent {
				t.Fatalf("%q is not an event, but the handler got %+v", body, got)
			}
			if got.ID != want.ID || got.Type != want.Type || got.Source != want.Source || got.TraceID != want.TraceID ||
				!got.Time.Equal(want.Time) || !bytes.Equal(got.Body, want.Body) {
				t.Fatalf("the handler got %+v, want %+v", got, want)
			}
		case d := <-dead:
			reason, _ := d.Headers["hive-reason"].(string)
			switch {
			case d.MessageId != id:
				t.Fatalf("a dead letter of an earlier message (%s) came out now, with reason %q", d.MessageId, reason)
			case isEvent:
				t.Fatalf("%q is an event, but it went to the dead letters: %s", body, reason)
			case !strings.HasPrefix(reason, "not an event: "):
				t.Fatalf("the dead letter's reason is %q, want one that starts with \"not an event: \"", reason)
			case !bytes.Equal(d.Body, body):
				t.Fatalf("the dead letter holds %q, want the message as it was sent, %q", d.Body, body)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q was neither handled nor dead-lettered within 10s", body)
		}
	})
}
