package hive_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

type orderPlaced struct {
	OrderID string `json:"order_id"`
}

func TestEmitReachesTypedHandlers(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		got := make(chan hive.Event[orderPlaced], 1)
		kitchen := hive.New("kitchen")
		hive.On(kitchen, "order.*", func(ctx context.Context, e hive.Event[orderPlaced]) error {
			got <- e
			return nil
		})
		order := hive.New("order")
		n.Start(kitchen)
		n.Start(order)

		ctx := hive.WithTraceID(context.Background(), "trace-7")
		require.NoError(t, order.Emit(ctx, "order.placed", orderPlaced{OrderID: "o-1"}))
		select {
		case e := <-got:
			assert.Equal(t, "o-1", e.Body.OrderID)
			assert.Equal(t, "order.placed", e.Type)
			assert.Equal(t, order.ID(), e.Source)
			assert.Equal(t, "trace-7", e.TraceID)
			assert.NotEmpty(t, e.ID)
			assert.WithinDuration(t, time.Now(), e.Time, time.Minute)
		case <-time.After(10 * time.Second):
			t.Fatal("the kitchen got no order.placed event within 10s")
		}
	})
}

// EmitAfter: the event comes with its trace id, and not before its delay.
func TestEmitAfterComesLater(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		got := make(chan time.Time, 1)
		notifier := hive.New("notifier")
		hive.On(notifier, "order.late", func(ctx context.Context, e hive.Event[orderPlaced]) error {
			assert.Equal(t, "trace-8", e.TraceID)
			got <- time.Now()
			return nil
		})
		order := hive.New("order")
		n.Start(notifier)
		n.Start(order)

		start := time.Now()
		ctx := hive.WithTraceID(context.Background(), "trace-8")
		require.NoError(t, order.EmitAfter(ctx, 1200*time.Millisecond, "order.late", orderPlaced{OrderID: "o-1"}))
		select {
		case at := <-got:
			assert.GreaterOrEqual(t, at.Sub(start), 1200*time.Millisecond, "the event came before its delay")
		case <-time.After(20 * time.Second):
			t.Fatal("the notifier got no order.late event within 20s")
		}
		assert.ErrorContains(t, order.EmitAfter(ctx, events.MaxDelay+time.Second, "order.late", nil), "events.MaxDelay")
	})
}

func TestFailingHandlersAreRetriedAndCounted(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		var calls atomic.Int64
		kitchen := hive.New("kitchen")
		hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[orderPlaced]) error {
			if calls.Add(1) < 3 {
				return errors.New("the oven is cold")
			}
			return nil
		})
		n.Start(kitchen)
		order := n.Start(hive.New("order"))
		require.NoError(t, order.Emit(context.Background(), "order.placed", orderPlaced{OrderID: "o-2"}))

		require.Eventually(t, func() bool {
			var s hive.Status
			err := n.Call(context.Background(), "kitchen.status", nil, &s)
			return err == nil && s.EventsHandled == 1 && s.EventsFailed == 2
		}, 10*time.Second, 20*time.Millisecond, "the handler failed twice and then succeeded: status must count 2 failures and 1 success")
	})
}

func TestServiceSetupMistakesPanic(t *testing.T) {
	svc := hive.New("menu")
	hive.Handle(svc, "get", func(ctx context.Context, _ struct{}) (struct{}, error) { return struct{}{}, nil })
	assert.Panics(t, func() {
		hive.Handle(svc, "get", func(ctx context.Context, _ struct{}) (struct{}, error) { return struct{}{}, nil })
	}, "a second method of the same name")
	assert.Panics(t, func() {
		hive.Handle(svc, "ping", func(ctx context.Context, _ struct{}) (struct{}, error) { return struct{}{}, nil })
	}, "a method named like a built-in")
}

func TestStopThatRunsOutOfTimeEndsHandlersInFlight(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		entered := make(chan struct{}, 1)
		ended := make(chan error, 1)
		kitchen := hive.New("kitchen")
		var calls atomic.Int32
		hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[orderPlaced]) error {
			if calls.Add(1) > 1 {
				return ctx.Err() // the event again, after Stop began: the test fails below
			}
			entered <- struct{}{}
			<-ctx.Done() // a handler stuck on something that never answers
			ended <- ctx.Err()
			return ctx.Err()
		})
		cfg := n.Config()
		cfg.EventTimeout = time.Minute
		n.StartWith(kitchen, cfg)
		order := n.Start(hive.New("order"))
		require.NoError(t, order.Emit(context.Background(), "order.placed", orderPlaced{OrderID: "o-3"}))
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the handler did not start within 10s")
		}

		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := kitchen.Stop(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "Stop must say that it could not drain in time")
		select {
		case err := <-ended:
			assert.ErrorIs(t, err, context.Canceled, "the handler's context must end when Stop gives up")
		case <-time.After(10 * time.Second):
			t.Fatal("Stop returned, but the handler still runs")
		}
		assert.Equal(t, int32(1), calls.Load(), "once Stop has begun, no event may reach a handler: the failed one went to the retry queue, for another instance")
	})
}

func TestHandlersThatKeepFailingEndInTheDeadLetters(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		var calls atomic.Int64
		kitchen := hive.New("kitchen")
		hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[orderPlaced]) error {
			calls.Add(1)
			return errors.New("no recipe for pineapple pizza")
		})
		n.Start(kitchen)
		order := n.Start(hive.New("order"))
		ctx := context.Background()
		require.NoError(t, order.Emit(ctx, "order.placed", orderPlaced{OrderID: "o-4"}))

		require.Eventually(t, func() bool {
			dead, err := n.DeadLetters(ctx, "kitchen", "order.placed")
			return err == nil && len(dead) == 1
		}, 10*time.Second, 20*time.Millisecond, "the event must end in the dead letters after %d tries", hivetest.MaxAttempts)
		dead, _ := n.DeadLetters(ctx, "kitchen", "order.placed")
		assert.Contains(t, dead[0].Reason, "no recipe for pineapple pizza", "the dead letter must say why")
		assert.Equal(t, int64(hivetest.MaxAttempts), calls.Load())
	})
}

func TestPermanentFailuresGoToTheDeadLettersAtOnce(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		var calls atomic.Int64
		kitchen := hive.New("kitchen")
		hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[orderPlaced]) error {
			calls.Add(1)
			return events.Permanent(errors.New("no recipe for pineapple pizza"))
		})
		n.Start(kitchen)
		order := n.Start(hive.New("order"))
		ctx := context.Background()
		require.NoError(t, order.Emit(ctx, "order.placed", orderPlaced{OrderID: "o-5"}))
		require.NoError(t, order.Emit(ctx, "order.placed", "not an order"), "a body the handler cannot decode")

		require.Eventually(t, func() bool {
			dead, err := n.DeadLetters(ctx, "kitchen", "order.placed")
			return err == nil && len(dead) == 2
		}, 10*time.Second, 20*time.Millisecond, "both events must end in the dead letters")
		dead, _ := n.DeadLetters(ctx, "kitchen", "order.placed")
		reasons := dead[0].Reason + "\n" + dead[1].Reason
		assert.Contains(t, reasons, "cannot be handled: no recipe for pineapple pizza")
		assert.Contains(t, reasons, "not valid JSON for hive_test.orderPlaced")
		assert.Equal(t, int64(1), calls.Load(), "a permanent failure is not tried again")
	})
}

// A body that a handler cannot decode may be quoted whole by the decoding
// error (a time of 200,000 digits, here). Neither a log line nor the dead
// letter's reason may hold it.
func TestLogLinesDoNotHoldAWholeEventBody(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		type orderDue struct {
			Due time.Time `json:"due"`
		}
		kitchen := hive.New("kitchen")
		hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[orderDue]) error { return nil })
		n.Start(kitchen)
		order := n.Start(hive.New("order"))
		ctx := context.Background()
		body := json.RawMessage(`{"due": "` + strings.Repeat("1", 200_000) + `"}`)
		require.NoError(t, order.Emit(ctx, "order.placed", body))

		var dead []events.DeadLetter
		require.Eventually(t, func() bool {
			var err error
			dead, err = n.DeadLetters(ctx, "kitchen", "order.placed")
			return err == nil && len(dead) == 1
		}, 10*time.Second, 20*time.Millisecond, "the event the handler cannot decode must end in the dead letters")
		assert.Contains(t, dead[0].Reason, "not valid JSON")
		assert.Less(t, len(dead[0].Reason), 1000, "the dead letter's reason holds much of the body")
		for line := range strings.Lines(n.Logs.String()) {
			assert.Less(t, len(line), 2000, "a log line holds much of the body: %.300s...", line)
		}
	})
}

func TestQueueNamesTheHandlersQueue(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		kitchen := hive.New("kitchen")
		hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[orderPlaced]) error {
			return events.Permanent(errors.New("no recipe for pineapple pizza"))
		}, hive.Queue("orders"))
		n.Start(kitchen)
		order := n.Start(hive.New("order"))
		ctx := context.Background()
		require.NoError(t, order.Emit(ctx, "order.placed", orderPlaced{OrderID: "o-6"}))

		want := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed", Instance: kitchen.ID()}
		assert.Equal(t, []events.Subscription{want}, kitchen.Subscriptions())
		bus := n.Bus.(events.DeadLetterLister)
		require.Eventually(t, func() bool {
			dead, err := bus.DeadLetters(ctx, want)
			return err == nil && len(dead) == 1
		}, 10*time.Second, 20*time.Millisecond, "the event must end in the dead letters of the queue named orders")
		dead, err := n.DeadLetters(ctx, "kitchen", "order.placed")
		require.NoError(t, err)
		assert.Len(t, dead, 1, "hivetest must find the queue by the kitchen's subscription, not by its pattern")

		byPattern := want
		byPattern.Name = "order.placed"
		dead, err = bus.DeadLetters(ctx, byPattern)
		assert.True(t, err != nil || len(dead) == 0, "no queue may be named after the pattern: %v, %d dead letters", err, len(dead))
	})
}

func TestSubscriptionsNameQueuesAfterPatterns(t *testing.T) {
	svc := hive.New("menu")
	hive.On(svc, "order.*", func(ctx context.Context, e hive.Event[orderPlaced]) error { return nil })
	hive.On(svc, "menu.changed", func(ctx context.Context, e hive.Event[orderPlaced]) error { return nil }, hive.Broadcast())
	assert.Equal(t, []events.Subscription{
		{Service: "menu", Name: "order.*", Pattern: "order.*"},
		{Service: "menu", Name: "menu.changed", Pattern: "menu.changed", Broadcast: true},
	}, svc.Subscriptions(), "before Start, there is no instance yet")

	hivetest.NewNetwork(t).Start(svc)
	for _, s := range svc.Subscriptions() {
		assert.Equal(t, svc.ID(), s.Instance, "a started service's subscriptions carry its instance, which names broadcast queues")
	}
}

// hive.InOrder reaches the bus: the handler's subscription is InOrder.
func TestInOrderReachesTheBus(t *testing.T) {
	kitchen := hive.New("kitchen")
	hive.On(kitchen, "order.*", func(ctx context.Context, e hive.Event[orderPlaced]) error { return nil }, hive.InOrder(), hive.Queue("steps"))
	assert.Equal(t, []events.Subscription{{Service: "kitchen", Name: "steps", Pattern: "order.*", InOrder: true}}, kitchen.Subscriptions())
}
