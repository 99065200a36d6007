package rabbitmq

import (
	"errors"
	"fmt"
	"maps"
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

// delayExchange is where a delayed event is published: a headers
// exchange, the entry of the chain of delay tiers (see delayQueues).
func (l layout) delayExchange() string { return l.namespace + ".delay" }

// delayTier is the queue where delayed events wait for d:
// "<namespace>.delay.<d>", such as hive.delay.4s.
func (l layout) delayTier(d time.Duration) string { return l.namespace + ".delay." + d.String() }

// delayPast is the headers exchange where an event goes once it has
// waited in tier d, or has no need to: "<namespace>.delay.<d>.past".
func (l layout) delayPast(d time.Duration) string { return l.delayTier(d) + ".past" }

// delayHeader says, on a delayed event, whether it waits in tier d
// ("wait") or passes it by ("skip").
func delayHeader(d time.Duration) string { return "hive-delay-" + d.String() }

// The values of a delayHeader.
const (
	waitInTier = "wait"
	skipTier   = "skip"
)

// delayHeaders returns the headers that make an event of delay d (whole
// seconds, at most events.MaxDelay) wait in the tiers that add up to d.
func delayHeaders(d time.Duration) amqp.Table {
	headers := amqp.Table{}
	left := d
	for _, tier := range queues.DelayTiers() {
		headers[delayHeader(tier)] = skipTier
		if left >= tier {
			headers[delayHeader(tier)] = waitInTier
			left -= tier
		}
	}
	return headers
}

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

// The queue types of Options.QueueType.
const (
	// Classic queues live on one node of a cluster: while it is down,
	// their events come back as if nobody subscribed, and those in them
	// wait for the node.
	Classic = "classic"

	// Quorum queues are replicated over the nodes of a cluster (Raft),
	// and serve while a majority of them runs. RabbitMQ 3.10 and later
	// give them everything hive needs: message TTL, dead-lettering, and
	// at-least-once dead-lettering.
	Quorum = "quorum"
)

// queuesOf returns the queues that subscription s needs, in the order to
// declare them, with durable queues of queueType.
func (b *Bus) queuesOf(s events.Subscription, queueType string) []queue {
	l, o := b.layout, b.opts
	kept := func(q queue) queue { return kept(q, queueType) }
	var qs []queue
	for _, d := range queues.RetryDelays(o.MaxAttempts, o.RetryDelay, o.MaxRetryDelay) {
		name := l.retryTier(d)
		// After the TTL a message is dead-lettered through the default
		// exchange, which routes by queue name, with the routing key it
		// was sent with: its work queue's name.
		qs = append(qs, tier(name, d, "", queueType, l.waitExchange(), amqp.Table{"x-match": "all", waitHeader: name}))
	}
	deadArgs := amqp.Table{"x-max-length": int64(o.DeadLetterLimit)}
	if !s.Broadcast {
		var workArgs amqp.Table
		if s.InOrder {
			// One consumer at a time; the others wait their turn.
			workArgs = amqp.Table{"x-single-active-consumer": true}
		}
		return append(qs,
			kept(queue{name: l.work(s), args: workArgs, exchange: l.workExchange(), key: s.Pattern}),
			kept(queue{name: l.dead(s), args: deadArgs}))
	}
	// A broadcast subscription's queues belong to its instance: exclusive
	// to its connection, and the work queue goes when its consumer stops.
	// They are classic whatever the type of the others: quorum queues are
	// never exclusive, and what they would keep is news for the instance
	// alone.
	work := queue{name: l.work(s), autoDelete: true, exchange: l.broadcastExchange(), key: s.Pattern}
	dead := queue{name: l.dead(s), args: deadArgs}
	if s.Tap {
		return append(qs, work, dead)
	}
	mark := kept(queue{name: l.mark(s), args: amqp.Table{"x-max-length": int64(0)}, exchange: l.workExchange(), key: s.Pattern})
	return append(qs, mark, work, dead)
}

// tier returns a delay tier of queueType: the queue called name, where
// messages wait for d and are then dead-lettered to exchange next, with
// the routing key they were sent with. It is bound to exchange from with
// bindArgs.
func tier(name string, d time.Duration, next, queueType, from string, bindArgs amqp.Table) queue {
	args := amqp.Table{"x-message-ttl": d.Milliseconds(), "x-dead-letter-exchange": next}
	if queueType == Quorum {
		// The tier keeps a message until its next queue has it: a node
		// that fails in between cannot lose it. RabbitMQ does this only
		// for queues that refuse what they cannot take.
		args["x-dead-letter-strategy"] = "at-least-once"
		args["x-overflow"] = "reject-publish"
	}
	return kept(queue{name: name, args: args, exchange: from, bindArgs: bindArgs}, queueType)
}

// delayChain returns what delayed events need, in the order to declare
// it: a chain of headers exchanges, one past each delay tier, from the
// entry (delayExchange) down to the shortest tier's, which passes events
// on to the work and broadcast exchanges as if they were published then.
// Each exchange of the chain sends an event into the next tier if its
// delayHeader says "wait", and past it if it says "skip"; the tier, when
// the time is up, dead-letters it to the exchange past it. The routing key
// stays the event's type all along.
func (l layout) delayChain(queueType string) (exchanges []string, qs []queue, links []link) {
	exchanges = []string{l.delayExchange()}
	from := l.delayExchange()
	for _, d := range queues.DelayTiers() {
		past := l.delayPast(d)
		exchanges = append(exchanges, past)
		qs = append(qs, tier(l.delayTier(d), d, past, queueType, from, amqp.Table{"x-match": "all", delayHeader(d): waitInTier}))
		links = append(links, link{from: from, to: past, args: amqp.Table{"x-match": "all", delayHeader(d): skipTier}})
		from = past
	}
	// With no header to match, x-match all takes every event.
	links = append(links,
		link{from: from, to: l.workExchange(), args: amqp.Table{"x-match": "all"}},
		link{from: from, to: l.broadcastExchange(), args: amqp.Table{"x-match": "all"}})
	return exchanges, qs, links
}

// A link binds exchange to to exchange from.
type link struct {
	from, to string
	args     amqp.Table
}

// declareDelayChain declares the delayChain on ch, and returns the names
// of its queues.
func (l layout) declareDelayChain(ch *amqp.Channel, queueType string) ([]string, error) {
	exchanges, qs, links := l.delayChain(queueType)
	for _, x := range exchanges {
		if err := ch.ExchangeDeclare(x, amqp.ExchangeHeaders, true, false, false, false, nil); err != nil {
			return nil, fmt.Errorf("declare exchange %s: %w", x, err)
		}
	}
	var names []string
	for _, q := range qs {
		if err := declare(ch, q); err != nil {
			return nil, err
		}
		names = append(names, q.name)
	}
	for _, k := range links {
		if err := ch.ExchangeBind(k.to, "", k.from, false, k.args); err != nil {
			return nil, fmt.Errorf("bind exchange %s to %s: %w", k.to, k.from, err)
		}
	}
	return names, nil
}

// kept makes q a durable queue of queueType.
func kept(q queue, queueType string) queue {
	q.durable = true
	if queueType == Quorum {
		q.args = maps.Clone(q.args)
		if q.args == nil {
			q.args = amqp.Table{}
		}
		q.args["x-queue-type"] = Quorum
	}
	return q
}

// declare declares q on ch and binds it. A queue that exists with other
// arguments makes RabbitMQ close the channel with PRECONDITION_FAILED:
// declare then fails with errPrecondition.
func declare(ch *amqp.Channel, q queue) error {
	if _, err := ch.QueueDeclare(q.name, q.durable, q.autoDelete, !q.durable, false, q.args); err != nil {
		if amqpErr, ok := errors.AsType[*amqp.Error](err); ok && amqpErr.Code == amqp.PreconditionFailed {
			return fmt.Errorf("declare queue %s: %w: %w", q.name, errPrecondition, err)
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

// errPrecondition says that a queue exists with other arguments.
var errPrecondition = errors.New("the queue exists with other arguments")

// explain says what to do about a queue that exists with other arguments
// than this service's (err wraps errPrecondition), finding out whether it is
// other, its twin of the other type: declaring other, on a channel of conn,
// succeeds then.
func explain(conn *amqp.Connection, other queue, queueType string, err error) error {
	if ch, chErr := conn.Channel(); chErr == nil {
		defer ch.Close()
		if _, e := ch.QueueDeclare(other.name, other.durable, other.autoDelete, !other.durable, false, other.args); e == nil {
			theirs := otherType(queueType)
			return fmt.Errorf("%w: it is a %s queue, and this service declares %s queues (HIVE_QUEUE_TYPE=%s). "+
				"Every service of a namespace must declare the same type: set HIVE_QUEUE_TYPE=%s, "+
				"or move the namespace to %s queues as PROTOCOL.md says (\"Changing a queue's declaration\")",
				err, theirs, queueType, queueType, theirs, queueType)
		}
	}
	return fmt.Errorf("%w, made by another version of hive or another peer. "+
		"Delete it (Bus.DeleteQueues; it takes the messages in it along, so look at its dead letters first: hive dead list) "+
		"or use a new namespace (HIVE_NAMESPACE)", err)
}

// otherType is the queue type that is not t.
func otherType(t string) string {
	if t == Quorum {
		return Classic
	}
	return Quorum
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

// exchanges are the names of the namespace's exchanges, those of the
// delay chain too, for DeleteNamespace.
func (l layout) exchanges() []string {
	delays, _, _ := l.delayChain(Classic)
	return append([]string{l.workExchange(), l.broadcastExchange(), l.waitExchange()}, delays...)
}
