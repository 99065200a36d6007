package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	registrymemory "github.com/hive-workshop/microservices-go/hive/registry/memory"
)

// orderPlaced is the event both sides send.
type orderPlaced struct {
	OrderID  int    `json:"order_id"`
	Dish     string `json:"dish"`
	Quantity int    `json:"quantity"`
}

// prefetch is how many unacked events a subscriber holds: hive's default,
// which the raw side sets too.
const prefetch = 16

// BenchmarkEvents sends b.N events through RabbitMQ and waits until all
// are handled: with hive (Emit and On), and with amqp091-go directly, with
// the same guarantees (persistent, mandatory messages, publisher confirms,
// manual acks, the same prefetch, one durable queue bound to a topic
// exchange).
// It reports throughput from the first emit to the last event handled
// (events/s), with conc goroutines emitting at once.
func BenchmarkEvents(b *testing.B) {
	impls := []struct {
		name  string
		start func(b *testing.B, handled *tally) (emit func(orderPlaced) error)
	}{
		{"amqp091", startRawEvents},
		{"hive", startHiveEvents},
	}
	for _, conc := range []int{1, 8, 64} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("conc=%d/impl=%s", conc, impl.name), func(b *testing.B) {
				handled := newTally()
				emit := impl.start(b, handled)
				var id atomic.Int64
				op := func() error {
					return emit(orderPlaced{OrderID: int(id.Add(1)), Dish: "Margherita", Quantity: 2})
				}
				handled.expect(b.N)
				b.ResetTimer()
				reportCPU := measureCPU(b)
				concurrently(b, conc, op)
				handled.wait(b)
				b.StopTimer()
				reportCPU()
				reportRate(b, "events")
			})
		}
	}
}

// A tally counts handled events, and tells when the last one expected came.
type tally struct {
	handled, want atomic.Int64
	done          chan struct{}
}

func newTally() *tally { return &tally{done: make(chan struct{}, 1)} }

func (t *tally) expect(n int) {
	t.handled.Store(0)
	t.want.Store(int64(n))
}

func (t *tally) add() {
	if t.handled.Add(1) == t.want.Load() {
		t.done <- struct{}{}
	}
}

func (t *tally) wait(b *testing.B) {
	select {
	case <-t.done:
	case <-time.After(time.Minute):
		b.Fatalf("only %d of %d events were handled within a minute", t.handled.Load(), t.want.Load())
	}
}

// startHiveEvents starts a service that handles orderPlaced events and
// another that emits them, on one RabbitMQ bus, as one process would.
func startHiveEvents(b *testing.B, handled *tally) func(orderPlaced) error {
	url, ns := brokertest.RabbitMQ(b), hivetest.Namespace(b)
	bus, err := rabbitmq.New(b.Context(), url, rabbitmq.Options{Namespace: ns, Logger: quiet, Prefetch: prefetch})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		bus.Close()
		if err := bus.DeleteNamespace(context.Background()); err != nil {
			b.Error(err)
		}
	})
	cfg := hive.Config{Registry: registrymemory.New(), Bus: bus, Logger: quiet}

	kitchen := hive.New("kitchen")
	hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[orderPlaced]) error {
		handled.add()
		return nil
	})
	order := hive.New("order")
	for _, svc := range []*hive.Service{kitchen, order} {
		if err := svc.Start(b.Context(), cfg); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { svc.Stop(context.Background()) })
	}
	return func(e orderPlaced) error {
		return order.Emit(context.Background(), "order.placed", e)
	}
}

// startRawEvents does what startHiveEvents does with amqp091-go alone: one
// connection, a channel in confirm mode to publish on, and a channel that
// consumes one durable queue, acking each message once it is handled.
func startRawEvents(b *testing.B, handled *tally) func(orderPlaced) error {
	url, exchange := brokertest.RabbitMQ(b), hivetest.Namespace(b)
	queue := exchange + ".kitchen"
	conn, err := amqp.Dial(url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })

	pub, err := conn.Channel()
	must(b, err)
	must(b, pub.Confirm(false))
	must(b, pub.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil))
	b.Cleanup(func() {
		_, err := pub.QueueDelete(queue, false, false, false)
		must(b, err)
		must(b, pub.ExchangeDelete(exchange, false, false))
	})

	sub, err := conn.Channel()
	must(b, err)
	_, err = sub.QueueDeclare(queue, true, false, false, false, nil)
	must(b, err)
	must(b, sub.QueueBind(queue, "order.placed", exchange, false, nil))
	must(b, sub.Qos(prefetch, 0, false))
	deliveries, err := sub.Consume(queue, "", false, false, false, false, nil)
	must(b, err)
	go func() {
		for d := range deliveries {
			var e orderPlaced
			if err := json.Unmarshal(d.Body, &e); err != nil {
				b.Error(err)
			}
			handled.add()
			d.Ack(false)
		}
	}()

	return func(e orderPlaced) error {
		body, err := json.Marshal(e)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// Mandatory, as hive publishes: the broker returns a message that no
		// queue takes. (hive also matches the return to its publisher; here
		// there is always a queue.)
		confirm, err := pub.PublishWithDeferredConfirmWithContext(ctx, exchange, "order.placed", true, false, amqp.Publishing{
			ContentType:  "application/json",
			DeliveryMode: amqp.Persistent,
			Body:         body,
		})
		if err != nil {
			return err
		}
		acked, err := confirm.WaitContext(ctx)
		if err == nil && !acked {
			err = errors.New("the broker refused the message (nack)")
		}
		return err
	}
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
