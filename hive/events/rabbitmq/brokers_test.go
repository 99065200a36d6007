package rabbitmq_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/eventstest"
	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// HIVE_AMQP_URL may list several nodes: the Bus connects to one that
// answers, and when its node goes, it moves to another, while Publish
// waits for it. Two proxies stand for two nodes of a cluster.
func TestTheBusMovesToAnotherBrokerOfTheList(t *testing.T) {
	t.Parallel()
	amqpURL, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	a, urlA := proxyTo(t, amqpURL)
	b, urlB := proxyTo(t, amqpURL)

	a.Cut() // a node that is down when the service starts
	bus := newBus(t, urlA+" , "+urlB, ns)
	t.Cleanup(func() { a.Restore(); b.Restore() }) // before newBus's cleanup deletes the queues
	subscribeKitchen(t, bus)
	publishOne := func(id string) error {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		return bus.Publish(ctx, events.Event{ID: id, Type: "order.placed", Body: []byte(`{}`)})
	}
	require.NoError(t, publishOne("1"), "the bus should have connected through the node that answers")

	a.Restore()
	b.Cut() // the node it is connected to goes
	require.NoError(t, publishOne("2"), "Publish should wait for the connection to the other node, and succeed")

	// With every node gone, Publish waits for one until its deadline, and
	// no longer.
	a.Cut()
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	err := bus.Publish(ctx, events.Event{ID: "3", Type: "order.placed", Body: []byte(`{}`)})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, events.ErrNotStored)
	assert.Contains(t, err.Error(), a.Addr(), "the error names the nodes it waited for")
	assert.Contains(t, err.Error(), b.Addr(), "the error names the nodes it waited for")
}

// A list with a bad URL in it is refused whole, naming which one, and
// without the password.
func TestABadURLInTheListIsNamed(t *testing.T) {
	t.Parallel()
	_, err := rabbitmq.New(t.Context(), "amqp://guest:secret@127.0.0.1:5672/,http://guest:secret@127.0.0.1:5673/",
		rabbitmq.Options{Namespace: "test", Logger: eventstest.Logger(t)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 of 2")
	assert.NotContains(t, err.Error(), "secret")
}

// proxyTo returns a proxy to the broker of amqpURL, and the URL that goes
// through it.
func proxyTo(t *testing.T, amqpURL string) (*brokertest.Proxy, string) {
	t.Helper()
	p, err := brokertest.NewProxy(brokertest.AMQPHost(amqpURL))
	require.NoError(t, err)
	t.Cleanup(p.Close)
	u, err := url.Parse(amqpURL)
	require.NoError(t, err)
	u.Host = p.Addr()
	return p, strings.TrimSpace(u.String())
}
