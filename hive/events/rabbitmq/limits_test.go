package rabbitmq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
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

// TestPublishAnswersEachEventOnItsOwn publishes, from many goroutines at
// once, events that a queue takes and events that none does: each Publish
// must give its own event's answer, never its neighbour's.
func TestPublishAnswersEachEventOnItsOwn(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	bus := newBus(t, url, ns)
	kitchen := make(chan string, 1000)
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := bus.Subscribe(t.Context(), s, func(_ context.Context, e events.Event) error {
		kitchen <- e.ID
		return nil
	})
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			e := events.Event{ID: fmt.Sprint(i), Type: "order.placed", Body: json.RawMessage(`{}`)}
			if i%2 == 1 {
				e.Type = "order.lost"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			errs[i] = bus.Publish(ctx, e)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 0 {
			assert.NoError(t, err, "publishing routable event %d failed", i)
		} else {
			assert.ErrorIs(t, err, events.ErrNoSubscriber, "publishing event %d, which no queue takes", i)
		}
	}
	for range n / 2 {
		select {
		case <-kitchen:
		case <-time.After(10 * time.Second):
			t.Fatal("not every routable event reached the kitchen")
		}
	}
}

// TestPublishEndsWhenTheConnectionCloses closes the bus's connection while
// events are being published. Every Publish must come back before its
// deadline, with the right answer: the Bus publishes again on the next
// connection what the broker had not confirmed.
func TestPublishEndsWhenTheConnectionCloses(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	brokertest.RequireRabbitmqctl(t)
	publishAcrossABreak(t, newBus(t, url, ns), func() {
		closed, err := brokertest.CloseRabbitMQConnections(t.Context(), ns)
		require.NoError(t, err, "closing this test's connections failed")
		require.GreaterOrEqual(t, closed, 1, "rabbitmqctl closed none of this test's connections")
	})
}

// TestPublishEndsWhenTheNetworkBreaks is the same with a network that
// drops the connection without a word from RabbitMQ: a publish then fails
// in the middle of its write (a reset, a broken pipe) before the client
// notices that the connection is gone. (CI under load once saw a Publish
// answer "write: connection reset by peer" instead of sending again.)
func TestPublishEndsWhenTheNetworkBreaks(t *testing.T) {
	t.Parallel()
	amqpURL, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	proxy, proxied := proxyTo(t, amqpURL)
	publishAcrossABreak(t, newBus(t, proxied, ns), func() {
		proxy.Cut()
		proxy.Restore()
	})
}

// publishAcrossABreak publishes from 8 goroutines, breaks the connection
// with breakConnection, and checks that publishing goes on and that every
// Publish gave the right answer.
func publishAcrossABreak(t *testing.T, bus *rabbitmq.Bus, breakConnection func()) {
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := bus.Subscribe(t.Context(), s, func(context.Context, events.Event) error { return nil })
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	var published atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wrong []string
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				e := events.Event{ID: fmt.Sprint(g, "-", i), Type: "order.placed", Body: json.RawMessage(`{}`)}
				want := error(nil)
				if i%3 == 0 {
					e.Type, want = "order.lost", events.ErrNoSubscriber
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err := bus.Publish(ctx, e)
				cancel()
				if !errors.Is(err, want) || (want == nil && err != nil) {
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("%s %s: %v, want %v", e.Type, e.ID, err, want))
					mu.Unlock()
				}
				published.Add(1)
			}
		})
	}
	require.Eventually(t, func() bool { return published.Load() >= 50 }, 10*time.Second, 5*time.Millisecond,
		"nothing was published before the connection was to be closed")
	breakConnection()
	after := published.Load()
	require.Eventually(t, func() bool { return published.Load() >= after+50 }, 20*time.Second, 5*time.Millisecond,
		"publishing did not go on after the connection broke")
	close(done)
	wg.Wait()
	assert.Empty(t, wrong, "some Publish calls gave the wrong answer")
}

// deadLetter waits for the single dead letter of s and returns it.
func deadLetter(t *testing.T, bus eventstest.Bus, s events.Subscription) events.DeadLetter {
	t.Helper()
	var letters []events.DeadLetter
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var err error
		letters, err = bus.DeadLetters(t.Context(), s)
		require.NoError(c, err, "reading the dead letters failed")
		require.Len(c, letters, 1, "the message is not (alone) in the dead-letter queue")
	}, 10*time.Second, 5*time.Millisecond)
	return letters[0]
}

// publishRaw publishes msg to the namespace's exchange with the plain
// client, as a publisher that knows nothing of hive could.
func publishRaw(t *testing.T, url, ns, key string, msg amqp.Publishing) {
	t.Helper()
	ch := rawChannel(t, url)
	require.NoError(t, ch.PublishWithContext(t.Context(), ns, key, false, false, msg), "publishing failed")
}

func TestOversizeMessageGoesToTheDeadLettersUnread(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	var logs hivetest.Logs
	bus := newBusWith(t, url, ns, slog.New(slog.NewTextHandler(&logs, nil)))
	var handled atomic.Int64
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := bus.Subscribe(t.Context(), s, func(context.Context, events.Event) error {
		handled.Add(1)
		return nil
	})
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	// A valid event, 2 MiB long: over the default limit of 1 MiB.
	big := fmt.Sprintf(`{"id":"big","type":"order.placed","body":{"note":%q}}`, strings.Repeat("x", 2<<20))
	publishRaw(t, url, ns, "order.placed", amqp.Publishing{MessageId: "big", Body: []byte(big)})

	letter := deadLetter(t, bus, s)
	assert.Contains(t, letter.Reason, "too big", "the dead letter's reason does not say what was wrong")
	assert.Equal(t, big[:1024], string(letter.Message), "the dead letter keeps the first KiB of the message, and no more")
	assert.Zero(t, handled.Load(), "the handler got a message over the size limit")
	assertShortLines(t, &logs)

	// Publish refuses one too, rather than send what nobody would read.
	err = bus.Publish(t.Context(), events.Event{ID: "big", Type: "order.placed", Body: json.RawMessage(big)})
	assert.ErrorContains(t, err, "over the limit", "Publish sent an event over the size limit")
}

// TestErrorThatQuotesTheBodyIsCutInTheLog sends a message that is not an
// event because a field is wrong, and whose decoding error quotes that
// whole field: the log line must not.
func TestErrorThatQuotesTheBodyIsCutInTheLog(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	var logs hivetest.Logs
	bus := newBusWith(t, url, ns, slog.New(slog.NewTextHandler(&logs, nil)))
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := bus.Subscribe(t.Context(), s, func(context.Context, events.Event) error { return nil })
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	body := fmt.Sprintf(`{"id":"x","type":"order.placed","time":%q}`, strings.Repeat("9", 100_000))
	publishRaw(t, url, ns, "order.placed", amqp.Publishing{Body: []byte(body)})
	letter := deadLetter(t, bus, s)
	assert.Contains(t, letter.Reason, "not an event", "the dead letter's reason does not say what was wrong")
	assert.Less(t, len(letter.Reason), 1000, "the dead letter's reason holds much of the body")
	assertShortLines(t, &logs)
}

// TestForgedAttemptHeaderCannotBuyRetries sends events whose handler always
// fails, with hive-attempt headers that a publisher made up. Each must be
// tried at most MaxAttempts times, and then lie in the dead letters.
func TestForgedAttemptHeaderCannotBuyRetries(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	bus := newBus(t, url, ns)
	var mu sync.Mutex
	attempts := make(map[string]int)
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := bus.Subscribe(t.Context(), s, func(_ context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		attempts[e.ID]++
		return errors.New("out of stock")
	})
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	forged := map[string]any{
		"negative":      int32(-1000),
		"most-negative": int64(-1 << 62),
		"huge":          int64(1 << 62),
		"zero":          int8(0),
		"string":        "-5",
		"float":         -3.5,
	}
	for id, value := range forged {
		body := fmt.Sprintf(`{"id":%q,"type":"order.placed","source":"test","time":"2026-12-01T19:30:00Z","body":{}}`, id)
		publishRaw(t, url, ns, "order.placed", amqp.Publishing{
			MessageId: id,
			Headers:   amqp.Table{"hive-attempt": value},
			Body:      []byte(body),
		})
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		letters, err := bus.DeadLetters(t.Context(), s)
		require.NoError(c, err, "reading the dead letters failed")
		require.Len(c, letters, len(forged), "not every event is in the dead-letter queue yet")
	}, 20*time.Second, 10*time.Millisecond)

	mu.Lock()
	defer mu.Unlock()
	for id := range forged {
		n := attempts[id]
		assert.True(t, n >= 1 && n <= eventstest.MaxAttempts,
			"the event with hive-attempt %v was tried %d times, want 1 to MaxAttempts (%d)", forged[id], n, eventstest.MaxAttempts)
	}
}

// assertShortLines checks that no log line is long enough to hold an
// event body of some size.
func assertShortLines(t *testing.T, logs *hivetest.Logs) {
	t.Helper()
	lines := strings.Split(logs.String(), "\n")
	require.NotEmpty(t, lines[0], "nothing was logged")
	for _, line := range lines {
		assert.Less(t, len(line), 2000, "a log line is %d bytes long: %.300s...", len(line), line)
	}
}

// TestMovingToADeletedQueueDeclaresItAgain deletes the delay tier of a
// first retry behind the Bus's back. A failed event that cannot be moved there
// must not vanish: the Bus declares the queue again, and the event comes
// back to the handler.
func TestMovingToADeletedQueueDeclaresItAgain(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	bus := newBus(t, url, ns)
	var calls atomic.Int64
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := bus.Subscribe(t.Context(), s, func(context.Context, events.Event) error {
		if calls.Add(1) == 1 {
			return errors.New("the oven is cold")
		}
		return nil
	})
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	ch := rawChannel(t, url)
	tier := ns + ".retry." + eventstest.RetryDelay.String()
	_, err = ch.QueueDelete(tier, false, false, false)
	require.NoError(t, err, "deleting the delay tier failed")

	e := events.Event{ID: "cold-oven", Type: "order.placed", Body: json.RawMessage(`{}`)}
	require.NoError(t, bus.Publish(t.Context(), e), "publishing failed")
	require.Eventually(t, func() bool { return calls.Load() >= 2 }, 10*time.Second, 5*time.Millisecond,
		"the event that failed once never came back: it vanished on its way to the deleted delay tier")
	_, err = ch.QueueDeclarePassive(tier, true, false, false, false, amqp.Table{
		"x-message-ttl":          eventstest.RetryDelay.Milliseconds(),
		"x-dead-letter-exchange": "",
	})
	assert.NoError(t, err, "the delay tier was not declared again")
}

// TestDeleteQueuesRemovesASubscriptionsQueuesWhoeverDeclaredThem: a queue
// that no handler reads any more, left by another bus (another release of
// the service, say), goes with its dead-letter queue, the retry queue of
// an older hive and the mark of a broadcast subscription, and a queue
// that is already gone is no error.
func TestDeleteQueuesRemovesASubscriptionsQueuesWhoeverDeclaredThem(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	old := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	older := events.Subscription{Service: "kitchen", Name: "sold-out", Pattern: "dish.sold_out", Broadcast: true, Instance: "kitchen-1"}
	first := newBus(t, url, ns)
	for _, s := range []events.Subscription{old, older} {
		stop, err := first.Subscribe(t.Context(), s, func(context.Context, events.Event) error { return nil })
		require.NoError(t, err, "subscribing failed")
		stop()
	}
	// What hive made before delay tiers.
	_, err := rawChannel(t, url).QueueDeclare(ns+".kitchen.orders.retry", true, false, false, false, nil)
	require.NoError(t, err)

	bus := newBus(t, url, ns) // declared none of them
	require.NoError(t, bus.DeleteQueues(t.Context(), old, older))
	for _, q := range []string{ns + ".kitchen.orders", ns + ".kitchen.orders.retry", ns + ".kitchen.orders.dead", ns + ".kitchen.sold-out.broadcast"} {
		// A passive declare of a missing queue closes the channel, so
		// each look needs a channel of its own.
		_, err := rawChannel(t, url).QueueDeclarePassive(q, true, false, false, false, nil)
		var amqpErr *amqp.Error
		if assert.ErrorAs(t, err, &amqpErr, "queue %s is still there", q) {
			assert.Equal(t, amqp.NotFound, amqpErr.Code, "looking for queue %s: %v", q, err)
		}
	}
	require.NoError(t, bus.DeleteQueues(t.Context(), old), "deleting queues that are gone")
}

// TestDeadLetterQueueKeepsAtMostItsLimit: a dead-letter queue that nobody
// reads must not grow without end (issue 21, N9); past DeadLetterLimit,
// the oldest letters go.
func TestDeadLetterQueueKeepsAtMostItsLimit(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	bus := newBusOptions(t, url, rabbitmq.Options{Namespace: ns, Logger: eventstest.Logger(t), DeadLetterLimit: 3})
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := bus.Subscribe(t.Context(), s, func(context.Context, events.Event) error {
		return events.Permanent(errors.New("no recipe"))
	})
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	var ids []string
	for i := range 5 {
		e := events.Event{ID: fmt.Sprint("poison-", i), Type: "order.placed", Body: json.RawMessage(`{}`)}
		require.NoError(t, bus.Publish(t.Context(), e))
		ids = append(ids, e.ID)
		// One at a time, so that the order in the dead letters is known.
		require.Eventually(t, func() bool {
			letters, err := bus.DeadLetters(t.Context(), s)
			return err == nil && len(letters) > 0 && letters[len(letters)-1].Event.ID == e.ID
		}, 10*time.Second, 10*time.Millisecond, "%s never reached the dead letters", e.ID)
	}
	require.Eventually(t, func() bool {
		letters, err := bus.DeadLetters(t.Context(), s)
		if err != nil || len(letters) != 3 {
			return false
		}
		return letters[0].Event.ID == ids[2] && letters[2].Event.ID == ids[4]
	}, 10*time.Second, 10*time.Millisecond, "the dead-letter queue does not hold the 3 newest of 5 dead letters")
}
