package rabbitmq

import (
	"context"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive/events"
)

// Backlog reads the backlog of the work queue of s and of its dead-letter
// queue with passive queue declares, which ask the broker about a queue
// without creating it: it needs no management plugin. A queue that does
// not exist closes the channel it was asked on, so each read takes a
// channel of its own.
func (b *Bus) Backlog(ctx context.Context, s events.Subscription) (events.Backlog, error) {
	queue := b.layout.work(s)
	fail := func(err error) (events.Backlog, error) {
		return events.Backlog{}, fmt.Errorf("rabbitmq: backlog of %s: %w", queue, err)
	}
	_, ch, err := b.channel(ctx)
	if err != nil {
		return fail(err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		if e, ok := err.(*amqp.Error); ok && e.Code == amqp.NotFound {
			return fail(fmt.Errorf("the queue does not exist yet: start the service %s once, so that it declares it", s.Service))
		}
		return fail(err)
	}
	// Subscribe declares the dead-letter queue with the work queue, so it
	// is there too.
	d, err := ch.QueueDeclarePassive(b.layout.dead(s), true, false, false, false, nil)
	if err != nil {
		return fail(err)
	}
	return events.Backlog{Ready: q.Messages, Consumers: q.Consumers, Dead: d.Messages}, nil
}

// channel opens a channel of its own on the current session, for a look
// at the broker that may close it; the caller closes it.
func (b *Bus) channel(ctx context.Context) (*session, *amqp.Channel, error) {
	sess, err := b.session(ctx)
	if err != nil {
		return nil, nil, err
	}
	ch, err := sess.conn.Channel()
	if err != nil {
		return nil, nil, err
	}
	return sess, ch, nil
}

var _ events.BacklogReader = (*Bus)(nil)
