package rabbitmq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// Backlog counts the events waiting in a work queue and the instances
// reading it, and says when the queue is not there yet.
func TestBacklogCountsWaitingEventsAndConsumers(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	bus := newBus(t, url, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}

	_, err := bus.Backlog(ctx, s)
	require.Error(t, err, "a queue that does not exist has a backlog")
	assert.Contains(t, err.Error(), "does not exist yet")
	assert.Contains(t, err.Error(), ns+".kitchen.orders", "the error does not name the queue")

	stop, err := bus.Subscribe(ctx, s, func(context.Context, events.Event) error { return nil })
	require.NoError(t, err)
	got, err := bus.Backlog(ctx, s)
	require.NoError(t, err, "the bus cannot read the backlog after an error")
	assert.Equal(t, events.Backlog{Ready: 0, Consumers: 1}, got)

	stop() // the queue stays, and keeps what comes
	for i := range 5 {
		e := events.Event{ID: fmt.Sprint(i), Type: "order.placed", Time: time.Now(), Body: json.RawMessage(`{}`)}
		require.NoError(t, bus.Publish(ctx, e))
	}
	got, err = bus.Backlog(ctx, s)
	require.NoError(t, err)
	assert.Equal(t, events.Backlog{Ready: 5, Consumers: 0}, got)
}

// Backlog counts a subscription's dead letters too: what a picture of the
// hive shows as work that waits for a person.
func TestBacklogCountsDeadLetters(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	bus := newBus(t, url, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := bus.Subscribe(ctx, s, func(context.Context, events.Event) error {
		return events.Permanent(errors.New("no such dish"))
	})
	require.NoError(t, err)
	defer stop()
	for i := range 2 {
		e := events.Event{ID: fmt.Sprint(i), Type: "order.placed", Time: time.Now(), Body: json.RawMessage(`{}`)}
		require.NoError(t, bus.Publish(ctx, e))
	}
	err = hivetest.Eventually(5*time.Second, func() error {
		got, err := bus.Backlog(ctx, s)
		if err != nil {
			return err
		}
		if want := (events.Backlog{Ready: 0, Consumers: 1, Dead: 2}); got != want {
			return fmt.Errorf("backlog %+v, want %+v", got, want)
		}
		return nil
	})
	require.NoError(t, err)
}
