package rabbitmq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// TestAThirtySecondOutageSendsNothingToTheDeadLetters is issue 21's N2:
// ZooKeeper stopped for 30 s while events came at 5 a second, and the
// kitchen's handler, which claims each order in ZooKeeper, failed all that
// time. With 3 tries a second apart, half the events went to the dead
// letters. Here the handler fails for 30 s, as it did then, under the
// bus's default retry schedule: every event is handled once the outage
// is over, and none is given up on. (It takes about 50 s: the real
// schedule, against real RabbitMQ.)
func TestAThirtySecondOutageSendsNothingToTheDeadLetters(t *testing.T) {
	if testing.Short() {
		t.Skip("a 30 s outage: not with -short")
	}
	t.Parallel()
	const (
		outage = 30 * time.Second
		rate   = 5 // events a second, as in N2
	)
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	bus := newBusOptions(t, url, rabbitmq.Options{Namespace: ns, Logger: eventstest.Logger(t)}) // the defaults
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}

	over := time.Now().Add(outage)
	var mu sync.Mutex
	handled := make(map[string]bool)
	var failures atomic.Int64
	stop, err := bus.Subscribe(t.Context(), s, func(_ context.Context, e events.Event) error {
		if time.Now().Before(over) {
			failures.Add(1)
			return errors.New("ledger: claim cooked/" + e.ID + ": zk: could not connect to a server")
		}
		mu.Lock()
		defer mu.Unlock()
		handled[e.ID] = true
		return nil
	})
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	var ids []string
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	for time.Now().Before(over) {
		e := events.Event{ID: fmt.Sprintf("order-%d", len(ids)), Type: "order.placed", Time: time.Now(), Body: json.RawMessage(`{}`)}
		require.NoError(t, bus.Publish(t.Context(), e), "publishing failed")
		ids = append(ids, e.ID)
		<-tick.C
	}

	// The last event to come back waits at most one delay of the schedule
	// after the outage: 30 s.
	err = hivetest.Eventually(45*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(handled) < len(ids) {
			return fmt.Errorf("%d of %d events handled", len(handled), len(ids))
		}
		return nil
	})
	letters, lerr := bus.DeadLetters(t.Context(), s)
	require.NoError(t, lerr)
	assert.Empty(t, letters, "%d events went to the dead letters during a %v outage: the retries gave up too soon", len(letters), outage)
	require.NoError(t, err, "after the outage")
	assert.Positive(t, failures.Load(), "the handler never failed: the test proves nothing")
}

// TestAQueueDeclaredOtherwiseSaysWhatToDo: a dead-letter queue made by an
// older hive, without the length limit, cannot be declared with it.
// RabbitMQ's PRECONDITION_FAILED alone leaves a learner lost; the error
// names the two ways out.
func TestAQueueDeclaredOtherwiseSaysWhatToDo(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	bus := newBus(t, url, ns)
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	_, err := rawChannel(t, url).QueueDeclare(ns+".kitchen.orders.dead", true, false, false, false, nil)
	require.NoError(t, err, "declaring the dead-letter queue as an older hive did")
	t.Cleanup(func() { bus.DeleteQueues(context.Background(), s) })

	_, err = bus.Subscribe(t.Context(), s, func(context.Context, events.Event) error { return nil })
	require.Error(t, err, "subscribing with a queue declared otherwise must fail")
	var amqpErr *amqp.Error
	require.ErrorAs(t, err, &amqpErr)
	assert.Equal(t, amqp.PreconditionFailed, amqpErr.Code)
	for _, want := range []string{ns + ".kitchen.orders.dead", "Bus.DeleteQueues", "HIVE_NAMESPACE"} {
		assert.True(t, strings.Contains(err.Error(), want), "the error %q does not say %q", err, want)
	}

	// The way out works.
	require.NoError(t, bus.DeleteQueues(t.Context(), s))
	stop, err := bus.Subscribe(t.Context(), s, func(context.Context, events.Event) error { return nil })
	require.NoError(t, err, "subscribing after DeleteQueues")
	stop()
}
