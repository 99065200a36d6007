package rabbitmq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/eventstest"
	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

func TestBus(t *testing.T) {
	eventstest.Run(t, func(t *testing.T) func() eventstest.Bus {
		url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
		return func() eventstest.Bus { return newBus(t, url, ns) }
	})
}

// The same contract holds with quorum queues (RabbitMQ 3.10 and later).
func TestBusOnQuorumQueues(t *testing.T) {
	eventstest.Run(t, func(t *testing.T) func() eventstest.Bus {
		url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
		return func() eventstest.Bus { return newBusOf(t, url, ns, eventstest.Logger(t), rabbitmq.Quorum) }
	})
}

// newBus connects a Bus for t, like one more process of a hive. When t
// ends, it closes the Bus and deletes its queues and exchange.
func newBus(t *testing.T, url, namespace string) *rabbitmq.Bus {
	t.Helper()
	return newBusWith(t, url, namespace, eventstest.Logger(t))
}

// newBusWith is newBus with a logger of the test's own.
func newBusWith(t *testing.T, url, namespace string, logger *slog.Logger) *rabbitmq.Bus {
	t.Helper()
	return newBusOf(t, url, namespace, logger, rabbitmq.Classic)
}

// newBusOf is newBusWith with queues of queueType.
func newBusOf(t *testing.T, url, namespace string, logger *slog.Logger, queueType string) *rabbitmq.Bus {
	t.Helper()
	return newBusOptions(t, url, rabbitmq.Options{
		Namespace:   namespace,
		Logger:      logger,
		MaxAttempts: eventstest.MaxAttempts,
		RetryDelay:  eventstest.RetryDelay,
		Prefetch:    eventstest.Prefetch,
		QueueType:   queueType,
	})
}

// newBusOptions is newBus with options of the test's own.
func newBusOptions(t *testing.T, url string, opts rabbitmq.Options) *rabbitmq.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bus, err := rabbitmq.New(ctx, url, opts)
	require.NoError(t, err, "cannot connect to RabbitMQ")
	t.Cleanup(func() {
		bus.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := bus.DeleteNamespace(ctx); err != nil {
			t.Errorf("cleaning up the test's exchange and queues failed: %v", err)
		}
	})
	return bus
}

func TestConsumingResumesAfterTheBrokerClosesTheConnections(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	brokertest.RequireRabbitmqctl(t)
	publisher, consumer := newBus(t, url, ns), newBus(t, url, ns)

	var (
		mu      sync.Mutex
		handled = make(map[string]bool)
	)
	handledCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(handled)
	}
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := consumer.Subscribe(context.Background(), s, func(_ context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		handled[e.ID] = true
		return nil
	})
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	// Publish without pause until told to stop, and keep the IDs of the
	// events whose Publish returned nil.
	stopPublishing := make(chan struct{})
	var published []string
	var failed []error
	publishing := make(chan struct{})
	go func() {
		defer close(publishing)
		for i := 0; ; i++ {
			select {
			case <-stopPublishing:
				return
			default:
			}
			e := events.Event{ID: fmt.Sprintf("order-%d", i), Type: "order.placed", Time: time.Now(), Body: json.RawMessage(`{}`)}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := publisher.Publish(ctx, e)
			cancel()
			if err != nil {
				failed = append(failed, err)
				continue
			}
			published = append(published, e.ID)
		}
	}()

	require.Eventually(t, func() bool { return handledCount() >= 20 }, 10*time.Second, 5*time.Millisecond,
		"no events were handled before the connections were to be closed")
	closed, err := brokertest.CloseRabbitMQConnections(t.Context(), ns)
	require.NoError(t, err, "closing this test's connections failed")
	require.GreaterOrEqual(t, closed, 2, "rabbitmqctl closed %d of this test's connections, want both (publisher and consumer)", closed)
	after := handledCount()
	require.Eventually(t, func() bool { return handledCount() >= after+20 }, 10*time.Second, 5*time.Millisecond,
		"no events were handled after the connections were closed: consuming did not resume")
	close(stopPublishing)
	<-publishing

	assert.Empty(t, failed, "Publish failed during the outage instead of waiting for the new connection")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		mu.Lock()
		defer mu.Unlock()
		var lost []string
		for _, id := range published {
			if !handled[id] {
				lost = append(lost, id)
			}
		}
		assert.Empty(c, lost, "%d of the %d events whose Publish returned nil were never handled", len(lost), len(published))
	}, 10*time.Second, 10*time.Millisecond)
	t.Logf("%d events published and handled across %d closed connections", len(published), closed)
}

func TestPoisonMessageGoesToTheDeadLetterQueue(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	bus := newBus(t, url, ns)
	var (
		mu  sync.Mutex
		got []string
	)
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := bus.Subscribe(context.Background(), s, func(_ context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e.ID)
		return nil
	})
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	// Publish a message that is not an event, with the plain client.
	ch := rawChannel(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = ch.PublishWithContext(ctx, ns, "order.placed", false, false, amqp.Publishing{Body: []byte("this is not JSON")})
	require.NoError(t, err, "publishing the poison message failed")

	var letters []events.DeadLetter
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var err error
		letters, err = bus.DeadLetters(ctx, s)
		require.NoError(c, err, "reading the dead letters failed")
		require.Len(c, letters, 1, "the poison message is not (alone) in the dead-letter queue")
	}, 10*time.Second, 5*time.Millisecond)
	assert.Contains(t, letters[0].Reason, "not an event", "the dead letter's reason does not say what was wrong")
	assert.Contains(t, letters[0].Reason, "this is not JSON", "the dead letter's reason does not quote the message")
	assert.Zero(t, letters[0].Event, "a message that is not an event came out as an event")

	// The bus goes on as before.
	e := events.Event{ID: "after-the-poison", Type: "order.placed", Time: time.Now(), Body: json.RawMessage(`{}`)}
	require.NoError(t, bus.Publish(ctx, e), "publishing after the poison message failed")
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1 && got[0] == e.ID
	}, 10*time.Second, 5*time.Millisecond, "the event after the poison message was not handled (alone)")
}

func TestNewFailsFastWhenNothingAnswers(t *testing.T) {
	t.Parallel()
	// A port that was free a moment ago.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()

	start := time.Now()
	_, err = rabbitmq.New(context.Background(), "amqp://guest:secret-password@"+addr+"/", rabbitmq.Options{Namespace: "test", Logger: eventstest.Logger(t)})
	require.Error(t, err, "New connected to a port where nothing listens")
	assert.Less(t, time.Since(start), 2*time.Second, "New took long to give up; it should fail fast")
	assert.Contains(t, err.Error(), "cannot connect to "+addr, "the error does not say where it tried to connect")
	assert.Contains(t, err.Error(), "make up", "the error does not say how to start RabbitMQ")
	assert.NotContains(t, err.Error(), "secret-password", "the error shows the password")
}

func TestNewDoesNotShowThePasswordOfABadURL(t *testing.T) {
	t.Parallel()
	_, err := rabbitmq.New(context.Background(), "amqp://guest:secret%zz@127.0.0.1:1/", rabbitmq.Options{Namespace: "test", Logger: eventstest.Logger(t)})
	require.Error(t, err, "New accepted a URL with a bad escape in it")
	assert.NotContains(t, err.Error(), "secret", "the error shows the password")
}

// BenchmarkPublish measures confirmed publishing from many goroutines at
// once, as the services of a busy instance do.
func BenchmarkPublish(b *testing.B) {
	url, ns := brokertest.RabbitMQ(b), hivetest.Namespace(b)
	bus, err := rabbitmq.New(b.Context(), url, rabbitmq.Options{Namespace: ns, Logger: eventstest.Logger(b)})
	require.NoError(b, err, "cannot connect to RabbitMQ")
	defer bus.DeleteNamespace(context.Background())
	defer bus.Close()
	// A queue that takes the events, and keeps them: with nobody
	// subscribed, Publish would fail.
	s := events.Subscription{Service: "bench", Name: "published", Pattern: "bench.published"}
	stop, err := bus.Subscribe(b.Context(), s, func(context.Context, events.Event) error { return nil })
	require.NoError(b, err, "subscribing failed")
	stop()
	b.RunParallel(func(pb *testing.PB) {
		e := events.Event{ID: "bench", Type: "bench.published", Body: json.RawMessage(`{}`)}
		for pb.Next() {
			if err := bus.Publish(context.Background(), e); err != nil {
				b.Error(err)
			}
		}
	})
}

// rawChannel opens a channel of the plain amqp091 client, beside any Bus,
// to do what a foreign program could: publish anything, delete a queue.
// The connection closes when the test ends.
func rawChannel(t testing.TB, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err, "cannot connect to RabbitMQ")
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err, "cannot open a channel")
	return ch
}
