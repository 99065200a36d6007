package protocol_test

import (
	"context"
	"encoding/json"
	"errors"
	"path"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

// What hive writes to ZooKeeper is the documented node, at the documented
// path, with exactly the fields of the schema.
func TestRegistryRecordInZooKeeper(t *testing.T) {
	n := brokertest.NewZooKeeperNetwork(t)
	svc := hive.New("menu")
	svc.SetVersion("1.4.0")
	hive.Handle(svc, "get", func(ctx context.Context, id int) (int, error) { return id, nil }, hive.Idempotent())
	n.Start(svc)

	conn, err := zookeeper.Connect(t.Context(), brokertest.ZooKeeper(t), zookeeper.Options{})
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	node := "/" + n.Namespace + "/services/menu/" + svc.ID()
	data, stat, err := conn.Get(node)
	require.NoError(t, err, "PROTOCOL.md: an instance is the node /<namespace>/services/<service>/<instance-id>")
	assert.NotZero(t, stat.EphemeralOwner, "PROTOCOL.md: the node is ephemeral")
	for p := path.Dir(node); p != "/"; p = path.Dir(p) {
		_, parent, err := conn.Get(p)
		require.NoError(t, err)
		assert.Zero(t, parent.EphemeralOwner, "PROTOCOL.md: the parent %s is persistent", p)
	}

	assert.NoError(t, validate(t, schema(t, "registry-record.schema.json"), string(data)))
	assert.Equal(t, schemaFields(t, "registry-record.schema.json"), keys(t, string(data)),
		"a record with every field set must have exactly the fields of the schema and of PROTOCOL.md")
	assert.Regexp(t, `^menu-[0-9a-f]{8}$`, svc.ID(), "PROTOCOL.md: hive writes <service>-<8 hex digits>")
}

// What hive publishes to RabbitMQ is the documented message: its
// properties, its headers and an envelope with exactly the fields of the
// schema.
func TestEventOnTheWire(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	svc := n.Start(hive.New("order"))
	ch := channel(t)
	// A queue of our own, bound as a subscriber's work queue is.
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(q.Name, "order.*", n.Namespace, false, nil), "PROTOCOL.md: the exchange is named after the namespace")

	ctx := hive.WithTraceID(t.Context(), "trace-7")
	require.NoError(t, svc.Emit(ctx, "order.placed", map[string]any{"order": "o-17", "dish": 3}))
	d := getOne(t, ch, q.Name)

	assert.Equal(t, "order.placed", d.RoutingKey, "PROTOCOL.md: the routing key is the event's type")
	assert.Equal(t, "application/json", d.ContentType)
	assert.Equal(t, amqp.Persistent, d.DeliveryMode)
	assert.Equal(t, "order.placed", d.Type)
	assert.Equal(t, []string{"hive-sequence"}, sorted(mapKeys(d.Headers)), "PROTOCOL.md lists the headers of a published event")

	body := string(d.Body)
	assert.NoError(t, validate(t, schema(t, "event.schema.json"), body))
	assert.Equal(t, schemaFields(t, "event.schema.json"), keys(t, body),
		"an event with every field set must have exactly the fields of the schema and of PROTOCOL.md")
	var e struct {
		ID      string    `json:"id"`
		Source  string    `json:"source"`
		TraceID string    `json:"trace_id"`
		Time    time.Time `json:"time"`
	}
	require.NoError(t, json.Unmarshal(d.Body, &e))
	assert.Equal(t, e.ID, d.MessageId, "PROTOCOL.md: message_id is the event's id")
	assert.Equal(t, e.Time.Unix(), d.Timestamp.Unix(), "PROTOCOL.md: timestamp is the event's time, in seconds")
	assert.Equal(t, svc.ID(), e.Source)
	assert.Equal(t, "trace-7", e.TraceID)
}

// A peer that declares the queues as PROTOCOL.md says shares them with a
// hive service (RabbitMQ refuses a declaration that differs), and an event
// it publishes as PROTOCOL.md says takes the documented way through the
// delay tiers to the dead letters, with the documented headers. A message
// that is no event goes to the dead letters at once.
func TestFailingHandlerAsDocumented(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	svc := hive.New("kitchen")
	hive.On(svc, "order.placed", func(ctx context.Context, e hive.Event[json.RawMessage]) error {
		return errors.New("out of stock")
	})
	n.Start(svc)

	work := n.Namespace + ".kitchen.order.placed"
	ch := channel(t)
	for _, q := range []struct {
		name string
		args amqp.Table
	}{
		{work, nil},
		// The delay tiers of hivetest's schedule: 50ms, then 100ms.
		{n.Namespace + ".retry.50ms", amqp.Table{"x-message-ttl": int64(50), "x-dead-letter-exchange": ""}},
		{n.Namespace + ".retry.100ms", amqp.Table{"x-message-ttl": int64(100), "x-dead-letter-exchange": ""}},
		{work + ".dead", amqp.Table{"x-max-length": int64(10000)}},
	} {
		_, err := ch.QueueDeclare(q.name, true, false, false, false, q.args)
		require.NoError(t, err, "PROTOCOL.md's declaration of %s must match hive's", q.name)
	}
	require.NoError(t, ch.Confirm(false))
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))

	event := example(t, "event")
	var id struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(event), &id))
	publish(t, ch, n.Namespace, "order.placed", amqp.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    id.ID,
		Type:         "order.placed",
		Timestamp:    time.Now(),
		Body:         []byte(event),
	})
	dead := getOne(t, ch, work+".dead")
	assert.JSONEq(t, event, string(dead.Body), "the dead letter is the event as published")
	assert.Equal(t, id.ID, dead.MessageId)
	assert.Equal(t, "order.placed", dead.Type)
	assert.Equal(t, amqp.Persistent, dead.DeliveryMode)
	assert.Equal(t, int32(hivetest.MaxAttempts), dead.Headers["hive-attempt"], "PROTOCOL.md: a retried copy carries hive-attempt, a 32-bit integer")
	assert.Equal(t, "failed 3 times: out of stock", dead.Headers["hive-reason"])
	for k := range dead.Headers {
		assert.False(t, strings.HasPrefix(k, "x-"), "PROTOCOL.md: a copy drops the broker's x- headers, but has %s", k)
	}

	publish(t, ch, n.Namespace, "order.placed", amqp.Publishing{ContentType: "application/json", Body: []byte(`{"order":"o-18"}`)})
	dead = getOne(t, ch, work+".dead")
	assert.Equal(t, `{"order":"o-18"}`, string(dead.Body))
	assert.Nil(t, dead.Headers["hive-attempt"], "a message that is no event is not retried")
	reason, _ := dead.Headers["hive-reason"].(string)
	assert.True(t, strings.HasPrefix(reason, "not an event: "), "PROTOCOL.md: the reason of a message that is no event, not %q", reason)

	select {
	case r := <-returns:
		t.Fatalf("the broker returned a message published to a bound type: %d %s", r.ReplyCode, r.ReplyText)
	default:
	}
}

// PROTOCOL.md: an event that no queue is bound to comes back, reply 312.
func TestUnroutableEventIsReturned(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	n.Start(hive.New("nobody")) // declares the exchange
	ch := channel(t)
	require.NoError(t, ch.Confirm(false))
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	publish(t, ch, n.Namespace, "nobody.listens", amqp.Publishing{ContentType: "application/json", Body: []byte(example(t, "event"))})
	select {
	case r := <-returns:
		assert.Equal(t, uint16(amqp.NoRoute), r.ReplyCode)
	default:
		t.Fatal("the broker acked an unroutable mandatory message without returning it first")
	}
}

// channel returns a channel on a connection of its own to the test's
// RabbitMQ, as a peer in another language would open one.
func channel(t *testing.T) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(brokertest.RabbitMQ(t))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	return ch
}

// publish publishes msg mandatory and waits for the broker's confirm; ch
// must be in confirm mode. A return comes before the confirm.
func publish(t *testing.T, ch *amqp.Channel, exchange, key string, msg amqp.Publishing) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
	require.NoError(t, err)
	acked, err := conf.WaitContext(ctx)
	require.NoError(t, err)
	require.True(t, acked, "the broker nacked the message")
}

// getOne waits for a message in queue, takes it and acks it.
func getOne(t *testing.T, ch *amqp.Channel, queue string) amqp.Delivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, ok, err := ch.Get(queue, true)
		require.NoError(t, err)
		if ok {
			return d
		}
		require.True(t, time.Now().Before(deadline), "no message arrived in %s", queue)
		time.Sleep(20 * time.Millisecond) // polling: basic.get has no wait
	}
}
