package rabbitmq_test

import (
	"context"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// An event that the broker refuses (a nack) is not "no subscriber": the
// subscriber is there, and a later try may pass. A queue that refuses
// every message (x-overflow reject-publish, x-max-length 0) makes
// RabbitMQ nack, as a full queue or a quorum queue that cannot take it
// does.
func TestANackIsNotStoredNotNoSubscriber(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	bus := newBus(t, url, ns)
	subscribeKitchen(t, bus)

	full := ns + ".full"
	declareAndBind(t, url, ns, full, amqp.Table{"x-max-length": int64(0), "x-overflow": "reject-publish"})
	err := bus.Publish(t.Context(), events.Event{ID: "1", Type: "order.placed", Body: []byte(`{}`)})
	require.ErrorIs(t, err, events.ErrNotStored, "a nacked event must fail with events.ErrNotStored")
	assert.NotErrorIs(t, err, events.ErrNoSubscriber, "the kitchen subscribes: a nack is not \"no subscriber\"")
	assert.Contains(t, err.Error(), "nack")
}

// An event of a type that a queue took before, and that comes back now,
// found its queue down (RabbitMQ returns it, as it returns one nobody
// subscribes to, when a classic queue's node is stopped) or deleted: it
// fails with events.ErrNotStored, to be tried again, not with
// ErrNoSubscriber, which a kitchen takes for "nobody to tell".
func TestAReturnAfterADeliveryIsNotStored(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	bus := newBus(t, url, ns)
	s := subscribeKitchen(t, bus)
	require.NoError(t, bus.Publish(t.Context(), events.Event{ID: "1", Type: "order.placed", Body: []byte(`{}`)}))

	require.NoError(t, bus.DeleteQueues(t.Context(), s)) // as gone as a queue on a stopped node
	err := bus.Publish(t.Context(), events.Event{ID: "2", Type: "order.placed", Body: []byte(`{}`)})
	require.ErrorIs(t, err, events.ErrNotStored)
	assert.NotErrorIs(t, err, events.ErrNoSubscriber)

	// A type that no queue ever took is still nobody's.
	err = bus.Publish(t.Context(), events.Event{ID: "3", Type: "order.lost", Body: []byte(`{}`)})
	require.ErrorIs(t, err, events.ErrNoSubscriber)
}

// declareAndBind declares queue with args on the broker at url, bound to
// the work exchange of namespace for every event, and deletes it when t
// ends.
func declareAndBind(t *testing.T, url, namespace, queue string, args amqp.Table) {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare(queue, true, false, false, false, args)
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(queue, "#", namespace, false, nil))
	t.Cleanup(func() { ch.QueueDelete(queue, false, false, false) })
}

// subscribeKitchen subscribes the kitchen's queue for "order.placed" and
// stops consuming at once: the queue stays, and takes the events.
func subscribeKitchen(t *testing.T, bus *rabbitmq.Bus) events.Subscription {
	t.Helper()
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := bus.Subscribe(t.Context(), s, func(context.Context, events.Event) error { return nil })
	require.NoError(t, err)
	stop()
	return s
}
