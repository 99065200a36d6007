package rabbitmq

import (
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/internal/queues"
)

// The names of everything the Bus declares on the broker, in one place.
// The package comment draws the layout; PROTOCOL.md specifies it.
type layout struct{ namespace string }

// workExchange is where events are published, and where the queues that
// count as delivery are bound: the work queues of services, and the marks
// of their broadcast subscriptions.
func (l layout) workExchange() string { return l.namespace }

// broadcastExchange gets a second, transient copy of every event, for the
// queues of one instance each: broadcast subscriptions and taps. Nothing
// bound here counts as delivery.
func (l layout) broadcastExchange() string { return l.namespace + ".broadcast" }

// waitExchange routes a message to the delay tier its waitHeader names,
// keeping the message's routing key: the address it goes to once its
// time is up.
func (l layout) waitExchange() string { return l.namespace + ".wait" }

// waitHeader names, on a message sent to the wait exchange, the tier
// queue it waits in.
const waitHeader = "hive-wait"

// retryTier is the queue where failed events wait for d before they go
// back to their work queue: "<namespace>.retry.<d>", such as hive.retry.4s.
func (l layout) retryTier(d time.Duration) string { return l.namespace + ".retry." + d.String() }

// work is the queue that s reads from.
func (l layout) work(s events.Subscription) string { return queues.Name(l.namespace, s) }

// dead is the dead-letter queue of s.
func (l layout) dead(s events.Subscription) string { return l.work(s) + ".dead" }

// mark is the queue that says, on the work exchange, that a service
// subscribed to broadcasts: it keeps no message (x-max-length 0), but an
// event it takes counts as delivered.
func (l layout) mark(s events.Subscription) string {
	s.Broadcast, s.Tap = false, false
	return l.work(s) + ".broadcast"
}

// legacyRetry is the retry queue of a subscription before delay tiers
// (hive before issue 21): DeleteQueues deletes it too.
func (l layout) legacyRetry(s events.Subscription) string { return l.work(s) + ".retry" }

// A queue is one queue to declare: its name, how, and where to bind it.
type queue struct {
	name       string
	durable    bool // survives a broker restart; else exclusive to the connection
	autoDelete bool
	args       amqp.Table
	exchange   string     // bind to it, if not empty
	key        string     // with this binding key
	bindArgs   amqp.Table // and these arguments (headers exchange)
}

// queuesOf returns the queues that subscription s needs, in the order to
// declare them.
func (b *Bus) queuesOf(s events.Subscription) []queue {
	l, o := b.layout, b.opts
	var qs []queue
	for _, d := range queues.RetryDelays(o.MaxAttempts, o.RetryDelay, o.MaxRetryDelay) {
		name := l.retryTier(d)
		qs = append(qs, queue{
			name: name, durable: true,
			// After the TTL a message is dead-lettered through the default
			// exchange, which routes by queue name, with the routing key it
			// was sent with: its work queue's name.
			args:     amqp.Table{"x-message-ttl": d.Milliseconds(), "x-dead-letter-exchange": ""},
			exchange: l.waitExchange(), bindArgs: amqp.Table{"x-match": "all", waitHeader: name},
		})
	}
	dead := queue{name: l.dead(s), durable: !s.Broadcast, args: amqp.Table{"x-max-length": int64(o.DeadLetterLimit)}}
	if !s.Broadcast {
		return append(qs,
			queue{name: l.work(s), durable: true, exchange: l.workExchange(), key: s.Pattern},
			dead)
	}
	// A broadcast subscription's queues belong to its instance: exclusive
	// to its connection, and the work queue goes when its consumer stops.
	work := queue{name: l.work(s), autoDelete: true, exchange: l.broadcastExchange(), key: s.Pattern}
	if s.Tap {
		return append(qs, work, dead)
	}
	mark := queue{name: l.mark(s), durable: true, args: amqp.Table{"x-max-length": int64(0)}, exchange: l.workExchange(), key: s.Pattern}
	return append(qs, mark, work, dead)
}

// declare declares q on ch and binds it. A queue that exists with other
// arguments makes RabbitMQ close the channel with PRECONDITION_FAILED: the
// error then says what to do about it.
func declare(ch *amqp.Channel, q queue) error {
	if _, err := ch.QueueDeclare(q.name, q.durable, q.autoDelete, !q.durable, false, q.args); err != nil {
		if amqpErr, ok := errors.AsType[*amqp.Error](err); ok && amqpErr.Code == amqp.PreconditionFailed {
			return fmt.Errorf("declare queue %s: %w: the queue exists with other arguments, made by another version of hive "+
				"or another peer. Delete it (Bus.DeleteQueues; it takes the messages in it along, so look at its dead letters first: hive dead list) "+
				"or use a new namespace (HIVE_NAMESPACE)", q.name, err)
		}
		return fmt.Errorf("declare queue %s: %w", q.name, err)
	}
	if q.exchange == "" {
		return nil
	}
	if err := ch.QueueBind(q.name, q.key, q.exchange, false, q.bindArgs); err != nil {
		return fmt.Errorf("bind queue %s to %s: %w", q.name, q.exchange, err)
	}
	return nil
}

// declareExchanges declares the namespace's three exchanges.
func (l layout) declareExchanges(ch *amqp.Channel) error {
	for _, x := range []struct{ name, kind string }{
		{l.workExchange(), amqp.ExchangeTopic},
		{l.broadcastExchange(), amqp.ExchangeTopic},
		{l.waitExchange(), amqp.ExchangeHeaders},
	} {
		if err := ch.ExchangeDeclare(x.name, x.kind, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", x.name, err)
		}
	}
	return nil
}

// exchanges are the names of the namespace's exchanges, for
// DeleteNamespace.
func (l layout) exchanges() []string {
	return []string{l.workExchange(), l.broadcastExchange(), l.waitExchange()}
}
