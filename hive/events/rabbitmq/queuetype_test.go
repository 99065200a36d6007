package rabbitmq_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/eventstest"
	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// With quorum queues, every durable queue of a subscription is one; the
// queues of a single instance stay classic, exclusive to its connection.
func TestQuorumQueuesAreDeclaredAsPROTOCOLSays(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	brokertest.RequireRabbitmqctl(t)
	bus := newBusOf(t, url, ns, eventstest.Logger(t), rabbitmq.Quorum)
	work := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	news := events.Subscription{Service: "kitchen", Name: "sold-out", Pattern: "dish.sold_out", Broadcast: true, Instance: "kitchen-1"}
	for _, s := range []events.Subscription{work, news} {
		stop, err := bus.Subscribe(t.Context(), s, func(context.Context, events.Event) error { return nil })
		require.NoError(t, err)
		defer stop()
	}

	types, err := brokertest.QueueTypes(t.Context(), ns+".")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		ns + ".kitchen.orders":                  "quorum",
		ns + ".kitchen.orders.dead":             "quorum",
		ns + ".retry.50ms":                      "quorum", // the delay tiers
		ns + ".retry.100ms":                     "quorum",
		ns + ".kitchen.sold-out.broadcast":      "quorum", // the mark
		ns + ".kitchen.sold-out.kitchen-1":      "classic",
		ns + ".kitchen.sold-out.kitchen-1.dead": "classic",
	}, types)
}

// A service that declares quorum queues where classic ones exist (an
// upgrade, or a service that another setting) is refused, and the error
// says what to set and where the way out is written.
func TestAQueueOfTheOtherTypeSaysWhatToDo(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	nop := func(context.Context, events.Event) error { return nil }

	stop, err := newBus(t, url, ns).Subscribe(t.Context(), s, nop)
	require.NoError(t, err)
	stop()

	_, err = newBusOf(t, url, ns, eventstest.Logger(t), rabbitmq.Quorum).Subscribe(t.Context(), s, nop)
	require.Error(t, err)
	for _, want := range []string{"is a classic queue", "declares quorum queues (HIVE_QUEUE_TYPE=quorum)", "set HIVE_QUEUE_TYPE=classic", "PROTOCOL.md"} {
		assert.Contains(t, err.Error(), want)
	}
}
