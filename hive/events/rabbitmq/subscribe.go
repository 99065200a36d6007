package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/internal/queues"
	"github.com/hive-workshop/microservices-go/hive/internal/clip"
)

// keptOfTooBig is how many bytes of a message over MaxBodySize its dead
// letter keeps.
const keptOfTooBig = 1 << 10

// Headers that the Bus sets on the messages it moves.
const (
	attemptHeader = "hive-attempt" // which attempt a retried message is on: 2, 3, ...
	reasonHeader  = "hive-reason"  // on a dead letter: why it was given up
)

// A subscription hands the messages of one work queue to one handler.
type subscription struct {
	bus     *Bus
	s       events.Subscription
	queue   string // the work queue; see the package comment for the others
	handler events.Handler
	ctx     context.Context // for the handler: the values of Subscribe's context, never cancelled
}

// A consumer is a subscription's hold on one session: its channel, and the
// deliveries that come in on it.
type consumer struct {
	sess       *session
	ch         *amqp.Channel
	deliveries <-chan amqp.Delivery
}

// Subscribe declares the queues of s (see the package comment), binds the
// work queue to the exchange with s.Pattern, and hands its messages to h,
// up to Prefetch at once.
func (b *Bus) Subscribe(ctx context.Context, s events.Subscription, h events.Handler) (stop func(), err error) {
	if err := queues.Check(s); err != nil {
		return nil, fmt.Errorf("rabbitmq: subscribe: %w", err)
	}
	sub := &subscription{bus: b, s: s, queue: b.layout.work(s), handler: h, ctx: context.WithoutCancel(ctx)}

	// Consume before returning, so that errors reach the caller and no
	// event published after Subscribe returns is missed.
	sess, err := b.session(ctx)
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: subscribe %s: %w", sub.queue, err)
	}
	c, err := sub.consume(sess)
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: subscribe %s: %w", sub.queue, err)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.life.Err() != nil {
		c.ch.Close()
		return nil, fmt.Errorf("rabbitmq: subscribe %s: %w", sub.queue, events.ErrClosed)
	}
	life, end := context.WithCancel(b.life)
	done := make(chan struct{})
	b.running.Go(func() {
		defer close(done)
		sub.run(life, c)
	})
	return sync.OnceFunc(func() { end(); <-done }), nil
}

// consume declares the queues of sub on a new channel of sess and starts
// consuming the work queue. It runs again after every reconnect, because
// exclusive queues die with their connection; declaring a queue that
// exists already changes nothing.
func (sub *subscription) consume(sess *session) (c *consumer, err error) {
	ch, err := sess.conn.Channel()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			ch.Close()
		}
	}()
	if err := sub.declare(sess.conn, ch); err != nil {
		return nil, err
	}
	if err := ch.Qos(sub.prefetch(), 0, false); err != nil {
		return nil, fmt.Errorf("set prefetch: %w", err)
	}
	deliveries, err := ch.Consume(sub.queue, "", false, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", sub.queue, err)
	}
	return &consumer{sess: sess, ch: ch, deliveries: deliveries}, nil
}

// declare declares the queues of sub (see queuesOf) on ch, a channel of
// conn, and binds them.
func (sub *subscription) declare(conn *amqp.Connection, ch *amqp.Channel) error {
	b, queueType := sub.bus, sub.bus.opts.QueueType
	others := b.queuesOf(sub.s, otherType(queueType))
	for i, q := range b.queuesOf(sub.s, queueType) {
		if err := declare(ch, q); err != nil {
			if errors.Is(err, errPrecondition) {
				return explain(conn, others[i], queueType, err)
			}
			return err
		}
		if q.durable {
			b.mu.Lock()
			b.durable[q.name] = true
			b.mu.Unlock()
		}
	}
	return nil
}

// prefetch is how many events sub takes at once: one for an InOrder
// subscription.
func (sub *subscription) prefetch() int {
	if sub.s.InOrder {
		return 1
	}
	return sub.bus.opts.Prefetch
}

// run hands deliveries to the handler until ctx ends. When the channel
// closes under it, it consumes again on the next session.
func (sub *subscription) run(ctx context.Context, c *consumer) {
	for {
		sub.serve(ctx, c)
		// What was delivered but not handled goes back to the queue.
		c.ch.Close()
		if ctx.Err() != nil {
			return
		}
		sub.bus.log.Warn("rabbitmq: channel closed; consuming again", "queue", sub.queue)
		if c = sub.resume(ctx); c == nil {
			return
		}
	}
}

// serve handles deliveries until ctx ends or the channel closes, and then
// waits for the handlers in flight. Prefetch workers take turns: the
// broker sends no more than Prefetch unacked messages anyway. (Workers
// that live as long as the channel, rather than a goroutine per message,
// keep the stacks they have grown: a new goroutine's stack grows again
// while it decodes JSON, which cost a tenth of the CPU time.)
func (sub *subscription) serve(ctx context.Context, c *consumer) {
	var workers sync.WaitGroup
	defer workers.Wait()
	for range sub.prefetch() {
		workers.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case d, ok := <-c.deliveries:
					if !ok || ctx.Err() != nil {
						// select picks at random when both cases are ready:
						// a delivery that came with the end is not handled.
						// Unacked, it goes back to the queue when run closes
						// the channel.
						return
					}
					sub.handle(ctx, c, d)
				}
			}
		})
	}
}

// resume consumes on the next live session, trying again with growing
// pauses. It returns nil when ctx ends.
func (sub *subscription) resume(ctx context.Context) *consumer {
	var pause backoff
	for {
		sess, err := sub.bus.session(ctx)
		if err != nil {
			return nil
		}
		c, err := sub.consume(sess)
		if err == nil {
			sub.bus.log.Info("rabbitmq: consuming again", "queue", sub.queue)
			return c
		}
		sub.bus.log.Warn("rabbitmq: cannot consume; trying again", "queue", sub.queue, "error", err)
		if !pause.wait(ctx) {
			return nil
		}
	}
}

// handle runs the handler on d and settles d: an ack on success; on
// failure a copy goes to the retry queue, or after MaxAttempts to the
// dead-letter queue, and only then is d acked. Copy first, ack second: if
// the process dies in between, the event is duplicated, never lost.
//
// Anyone may publish to the exchange, so nothing about d is trusted: its
// size is checked before it is decoded, and its attempt header is read
// with care.
func (sub *subscription) handle(ctx context.Context, c *consumer, d amqp.Delivery) {
	if limit := sub.bus.opts.MaxBodySize; len(d.Body) > limit {
		reason := fmt.Sprintf("too big: %d bytes, over the limit of %d", len(d.Body), limit)
		// The dead letter keeps only the start: enough for a person to
		// tell what it was, without a copy of 50 MiB that nobody can
		// handle.
		d.Body = d.Body[:keptOfTooBig]
		sub.bury(c, d, reason)
		return
	}
	e, err := sub.decode(d)
	if err != nil {
		// Trying again cannot help a message that is not an event.
		sub.bury(c, d, fmt.Sprintf("not an event: %s: %.80q", clip.Text(err.Error(), clip.ForLog), d.Body))
		return
	}
	err = queues.Call(sub.ctx, sub.bus.log, sub.handler, e)
	attempt := attemptOf(d.Headers, sub.bus.opts.MaxAttempts)
	o := sub.bus.opts
	for sub.s.InOrder && err != nil && attempt < o.MaxAttempts && !events.IsPermanent(err) {
		// In place: a tier would let the events behind this one pass it.
		wait := queues.RetryDelay(attempt, o.RetryDelay, o.MaxRetryDelay)
		sub.bus.log.Warn("rabbitmq: handler failed; will retry in place, the events behind it wait", "queue", sub.queue,
			"event", e.Type, "id", e.ID, "attempt", attempt, "error", clip.Text(err.Error(), clip.ForLog), "retry_in", wait)
		select {
		case <-ctx.Done():
			// Unacked, it goes back to the head of the queue when the
			// channel closes, for the next consumer.
			return
		case <-time.After(wait):
		}
		attempt++
		err = queues.Call(sub.ctx, sub.bus.log, sub.handler, e)
	}
	switch {
	case err == nil:
		sub.ack(d)
	case attempt < o.MaxAttempts && !events.IsPermanent(err):
		wait := queues.RetryDelay(attempt, o.RetryDelay, o.MaxRetryDelay)
		sub.bus.log.Warn("rabbitmq: handler failed; will retry", "queue", sub.queue, "event", e.Type, "id", e.ID,
			"attempt", attempt, "error", clip.Text(err.Error(), clip.ForLog), "retry_in", wait)
		// The tier sends it back by its routing key: the work queue's name.
		tier := sub.bus.layout.retryTier(wait)
		sub.move(c, d, sub.bus.layout.waitExchange(), sub.queue, amqp.Table{attemptHeader: int32(attempt + 1), waitHeader: tier})
	default:
		sub.bury(c, d, queues.Reason(attempt, err))
	}
}

// attemptOf reads which attempt a message is on from its headers: 1 if it
// has no attempt header, or one that is not a number; otherwise clamped to
// 1..maxAttempts. A message from outside may carry any header at all, and a
// negative attempt must not buy it endless retries.
func attemptOf(headers amqp.Table, maxAttempts int) int {
	var n int64
	switch v := headers[attemptHeader].(type) {
	case int32: // what move sets
		n = int64(v)
	case int64:
		n = v
	case int16:
		n = int64(v)
	case int8:
		n = int64(v)
	case uint8:
		n = int64(v)
	case uint16:
		n = int64(v)
	case uint32:
		n = int64(v)
	default:
		return 1
	}
	return int(min(max(n, 1), int64(maxAttempts)))
}

// decode reads the event envelope from a message, and checks that it is
// an event for this subscription: its type is the routing key it came with
// from an exchange of events (a retry comes back through the default
// exchange, with the work queue's name as routing key) and one the pattern matches. A
// handler dispatched by its queue must never get an event of another type.
func (sub *subscription) decode(d amqp.Delivery) (events.Event, error) {
	e, err := events.Decode(d.Body)
	if err != nil {
		return events.Event{}, err
	}
	l := sub.bus.layout
	fromExchange := d.Exchange == l.workExchange() || d.Exchange == l.broadcastExchange()
	if fromExchange && d.RoutingKey != e.Type || !events.Match(sub.s.Pattern, e.Type) {
		return events.Event{}, fmt.Errorf("%w: type %q, routing key %q, pattern %q", events.ErrWrongType, e.Type, d.RoutingKey, sub.s.Pattern)
	}
	return e, nil
}

// bury moves d to the dead-letter queue.
func (sub *subscription) bury(c *consumer, d amqp.Delivery, reason string) {
	reason = clip.Text(reason, clip.ForLog)
	sub.bus.log.Error("rabbitmq: giving up on a message; moved it to the dead-letter queue", "queue", sub.queue,
		"id", d.MessageId, "reason", reason)
	sub.move(c, d, "", sub.queue+".dead", amqp.Table{reasonHeader: reason})
}

// move publishes a copy of d, with the headers set, to exchange with
// routing key key, and acks d once the broker has confirmed the copy.
func (sub *subscription) move(c *consumer, d amqp.Delivery, exchange, key string, set amqp.Table) {
	msg := copyOf(d, set)
	// Mandatory, like every publish: if the queue is gone, the copy comes
	// back instead of vanishing while d is acked.
	err := c.sess.publish(context.Background(), outgoing{exchange: exchange, key: key, msg: msg, mandatory: true})
	switch {
	case errors.Is(err, errUnroutable):
		// Somebody deleted the queue. Closing the channel hands d back to
		// the broker, and the subscription consumes again on a new
		// channel, declaring its queues anew (see run); then d comes back.
		sub.bus.log.Error("rabbitmq: cannot move a message, its queue is gone; declaring it again", "exchange", exchange, "key", key,
			"id", d.MessageId)
		c.ch.Close()
	case err != nil:
		// Unacked, the message stays with the broker, which delivers it
		// again once this channel closes; a failed publish almost always
		// means that the connection is going.
		sub.bus.log.Error("rabbitmq: cannot move a message; it will be delivered again", "exchange", exchange, "key", key,
			"id", d.MessageId, "error", err)
	default:
		sub.ack(d)
	}
}

// copyOf returns a persistent copy of d, with the headers in set set. The
// headers that say where and why a message was moved (a tier, a reason)
// are cleared first, so that a copy carries those of its latest move only;
// the attempt stays, so a dead letter tells how often it was tried.
func copyOf(d amqp.Delivery, set amqp.Table) amqp.Publishing {
	headers := maps.Clone(d.Headers)
	if headers == nil {
		headers = amqp.Table{}
	}
	// The broker's own x- headers, such as x-death, tell the story of the
	// original message; the copy starts afresh.
	maps.DeleteFunc(headers, func(key string, _ any) bool {
		return strings.HasPrefix(key, "x-") || key == reasonHeader || key == waitHeader
	})
	maps.Copy(headers, set)
	return amqp.Publishing{
		Headers:      headers,
		ContentType:  d.ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    d.MessageId,
		Type:         d.Type,
		Timestamp:    d.Timestamp,
		Body:         d.Body,
	}
}

func (sub *subscription) ack(d amqp.Delivery) {
	if err := d.Ack(false); err != nil {
		// The channel is gone, and with it the broker's record of this
		// delivery: it will deliver the message again.
		sub.bus.log.Warn("rabbitmq: ack failed; the message will be delivered again", "queue", sub.queue,
			"id", d.MessageId, "error", err)
	}
}
