package protocol_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

// Issue 23, item 5: a peer need not learn the running system's retry
// delays: a tier's name says its delay, so a peer declares the tiers of
// its own schedule next to hive's, and can never declare one of hive's
// tiers with another delay by mistake.
func TestRetryDelaysNeedNoAgreement(t *testing.T) {
	docSays(t, "Events > Layout", "a peer need not learn the running system's delays")
	n := brokertest.NewRabbitMQNetwork(t)
	svc := hive.New("kitchen")
	hive.On(svc, "order.placed", func(ctx context.Context, e hive.Event[struct{}]) error { return nil })
	n.Start(svc) // hivetest's schedule: 50ms, 100ms

	ch := channel(t)
	tier := func(delay time.Duration) error {
		name := n.Namespace + ".retry." + delay.String()
		_, err := ch.QueueDeclare(name, true, false, false, false, amqp.Table{"x-message-ttl": delay.Milliseconds(), "x-dead-letter-exchange": ""})
		if err == nil {
			t.Cleanup(func() { channel(t).QueueDelete(name, false, false, false) })
		}
		return err
	}
	require.NoError(t, tier(2*time.Second), "a peer's own tier, next to hive's")
	require.NoError(t, tier(50*time.Millisecond), "a tier hive declared, declared again by a peer with the same schedule")
}

// Issue 23, item 6: the session timeout a peer should ask for, and how to
// get a new session with a client that does not open one by itself.
func TestSessionAdviceAsHiveDoes(t *testing.T) {
	seconds := strconv.FormatFloat(zookeeper.DefaultSessionTimeout.Seconds(), 'f', -1, 64)
	docSays(t, "Registry > Layout", "Ask for a session timeout of "+seconds+" s, as hive does")
	docSays(t, "Registry > Layout", "close the client, make a new one, connect it, and register again")
}

// Issue 23, item 12: everyone declares the exchanges, publishers too: a
// service that only publishes has declared all three once it runs.
func TestEveryoneDeclaresTheExchanges(t *testing.T) {
	docSays(t, "Events > Layout", "\\*\\*Everyone declares the exchanges\\*\\*")
	n := brokertest.NewRabbitMQNetwork(t)
	n.Start(hive.New("order")) // subscribes to nothing
	for _, x := range []string{n.Namespace, n.Namespace + ".broadcast", n.Namespace + ".wait"} {
		assert.NoError(t, channel(t).ExchangeDeclarePassive(x, "", true, false, false, false, nil), "exchange %s", x)
	}
	// And what happens to a peer that does not.
	ch := channel(t)
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	require.NoError(t, ch.PublishWithContext(t.Context(), n.Namespace+".nobody-declared-it", "x", false, false, amqp.Publishing{Body: []byte("{}")}))
	select {
	case err := <-closed:
		require.NotNil(t, err)
		assert.Equal(t, amqp.NotFound, err.Code)
	case <-time.After(30 * time.Second):
		t.Fatal("RabbitMQ did not close the channel of a publish to a missing exchange")
	}
}

// Issue 23, item 13: the form of a dead letter's reason: the start of a
// body that is no event, quoted, at most 80 characters; the whole reason
// at most 300 bytes, and a cut one says so.
func TestDeadLetterReasonAsDocumented(t *testing.T) {
	docSays(t, "Events > Consuming, and failing correctly", "at most its first 80 characters, and cuts the whole reason to 300 bytes, ending a cut one with `... \\(<n> more bytes\\)`")
	n := brokertest.NewRabbitMQNetwork(t)
	svc := hive.New("kitchen")
	hive.On(svc, "order.placed", func(ctx context.Context, e hive.Event[struct{}]) error {
		return errors.New(strings.Repeat("burnt ", 200))
	})
	n.Start(svc)
	work := n.Namespace + ".kitchen.order.placed"
	ch := channel(t)
	require.NoError(t, ch.Confirm(false))

	publish(t, ch, n.Namespace, "order.placed", amqp.Publishing{Body: []byte(strings.Repeat("x", 500))})
	reason, _ := getOne(t, ch, work+".dead").Headers["hive-reason"].(string)
	assert.True(t, strings.HasPrefix(reason, "not an event: "), reason)
	assert.True(t, strings.HasSuffix(reason, `: "`+strings.Repeat("x", 80)+`"`), "the body's first 80 characters, quoted: %s", reason)

	publish(t, ch, n.Namespace, "order.placed", amqp.Publishing{Body: []byte(example(t, "event"))})
	reason, _ = getOne(t, ch, work+".dead").Headers["hive-reason"].(string)
	assert.True(t, strings.HasPrefix(reason, "failed "), reason)
	cut, rest, ok := strings.Cut(reason, "... (")
	assert.True(t, ok && strings.HasSuffix(rest, " more bytes)"), "a cut reason says so: %s", reason)
	assert.LessOrEqual(t, len(cut), 300)
}

// Issue 23, item 17: the steps' own nodes beside /<namespace>/services,
// and what a relative Hive-Timeout means for a frozen instance.
func TestStepNodesAndFrozenInstancesAreDocumented(t *testing.T) {
	docSays(t, "Registry > Other nodes under the namespace", "`/<namespace>/ledger/<kind>/<key>`")
	docSays(t, "Registry > Other nodes under the namespace", "`/<namespace>/elections/<election>/`")
	docSays(t, "RPC > The request", "counted from when the instance has read the request")
	docSays(t, "RPC > The request", "runs them with a fresh deadline, though their callers may have given up")
}
