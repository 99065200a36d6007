package rabbitmq

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"
)

// What the tests in package rabbitmq_test (which cannot live in this
// package: hivetest imports it) need from the inside.

var (
	ErrLost   = errLost
	AttemptOf = attemptOf
)

const AttemptHeader = attemptHeader

// Session returns the Bus's current session as two functions: publish,
// which sends once and waits for the answer, without Publish's second
// try on a new connection; and close, which closes its connection.
func (b *Bus) Session() (publish func(ctx context.Context, key string, body []byte) error, close func() error) {
	b.mu.Lock()
	s := b.current
	b.mu.Unlock()
	publish = func(ctx context.Context, key string, body []byte) error {
		return s.publish(ctx, outgoing{exchange: b.layout.workExchange(), key: key, msg: amqp.Publishing{Body: body}, mandatory: true})
	}
	return publish, s.conn.Close
}
