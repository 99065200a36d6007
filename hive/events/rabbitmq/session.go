package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive/events"
)

// A session is one connection to the broker with the channel that
// publishes on it. When either closes, the session is dead for good and
// the Bus dials a new one. Every channel belongs to one session, so a
// delivery can only ever be acked on the channel it came from.
//
// amqp091-go can recover a connection by itself (Config.Recovery), but it
// reopens the same Channel values, where the delivery tags of messages
// handled during the outage would ack other messages. A fresh session
// keeps that simple: an ack on a dead channel fails, and the broker hands
// the message out again.
type session struct {
	conn *amqp.Connection
	pub  *amqp.Channel // in confirm mode: the broker acks every message it has stored
	dead chan struct{} // closed once conn or pub has closed
	why  *amqp.Error   // why it died (nil if closed on purpose); read it after dead is closed
}

// errLost says that a session died before the broker confirmed a message.
var errLost = errors.New("connection lost before the broker confirmed")

// dialTimeout bounds a dial, handshake included, so that New fails soon on
// an address where no broker answers, rather than hanging.
const dialTimeout = 5 * time.Second

// dial opens a session and declares the namespace's exchange on it.
func (b *Bus) dial(ctx context.Context) (*session, error) {
	props := amqp.NewConnectionProperties()
	// Shown by the management UI and `rabbitmqctl list_connections`.
	props.SetClientConnectionName(b.namespace)
	conn, err := amqp.DialConfig(b.url, amqp.Config{Properties: props, Dial: dialContext(ctx)})
	if err != nil {
		return nil, err
	}
	s, err := newSession(conn, b.namespace)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// dialContext dials like amqp.DefaultDial, but gives up when ctx ends.
func dialContext(ctx context.Context) func(network, addr string) (net.Conn, error) {
	return func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: dialTimeout}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// Bound the AMQP handshake too; amqp091-go clears the deadline once
		// the connection is open.
		return conn, conn.SetDeadline(time.Now().Add(dialTimeout))
	}
}

// newSession opens the publishing channel on conn, declares the exchange,
// and closes dead as soon as either the connection or the channel closes.
func newSession(conn *amqp.Connection, exchange string) (*session, error) {
	pub, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := pub.Confirm(false); err != nil {
		return nil, fmt.Errorf("confirm mode: %w", err)
	}
	if err := pub.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return nil, fmt.Errorf("declare exchange %s: %w", exchange, err)
	}
	s := &session{conn: conn, pub: pub, dead: make(chan struct{})}
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	pubClosed := pub.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		select {
		case s.why = <-connClosed:
		case s.why = <-pubClosed:
		}
		close(s.dead)
	}()
	return s, nil
}

// alive reports whether s can still be used. It checks the connection and
// channel themselves: dead is closed a moment after they are.
func (s *session) alive() bool {
	return !s.conn.IsClosed() && !s.pub.IsClosed()
}

// publish sends msg and waits for the broker's confirm. Many goroutines may
// publish at once: each waits for its own confirm.
func (s *session) publish(ctx context.Context, exchange, key string, msg amqp.Publishing) error {
	confirm, err := s.pub.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, msg)
	if err != nil {
		if s.pub.IsClosed() {
			return errLost
		}
		return err
	}
	acked, err := confirm.WaitContext(ctx)
	switch {
	case err != nil:
		return err
	case acked:
		return nil
	case s.pub.IsClosed(): // amqp091-go nacks what is pending when a channel closes
		return errLost
	default:
		return errors.New("the broker refused the message (nack)")
	}
}

// session returns a live session, waiting while the Bus reconnects, until
// ctx ends or the Bus is closed.
func (b *Bus) session(ctx context.Context) (*session, error) {
	for {
		b.mu.Lock()
		s, replaced := b.current, b.replaced
		b.mu.Unlock()
		if s.alive() {
			return s, nil
		}
		select {
		case <-replaced:
		case <-b.life.Done():
			return nil, events.ErrClosed
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the connection to %s: %w", b.host, ctx.Err())
		}
	}
}

// keepConnected waits for the current session to die and dials a new one,
// pausing longer after every failed attempt, until the Bus is closed.
// Publish waits for the new session; subscriptions notice that their
// channel closed, and consume again on the new session.
func (b *Bus) keepConnected() {
	for {
		b.mu.Lock()
		s := b.current
		b.mu.Unlock()
		select {
		case <-s.dead:
		case <-b.life.Done():
			return
		}
		b.log.Warn("rabbitmq: connection lost; reconnecting", "broker", b.host, "reason", s.why)
		s.conn.Close() // in case only the publishing channel died

		var pause backoff
		next, err := b.dial(b.life)
		for err != nil {
			b.log.Warn("rabbitmq: reconnect failed; trying again", "broker", b.host, "error", err)
			if !pause.wait(b.life) {
				return
			}
			next, err = b.dial(b.life)
		}

		b.mu.Lock()
		b.current = next
		close(b.replaced)
		b.replaced = make(chan struct{})
		b.mu.Unlock()
		b.log.Info("rabbitmq: reconnected", "broker", b.host)
	}
}

// backoff paces attempts that keep failing: it waits 100ms, then twice as
// long every time, up to 2s.
type backoff struct {
	next time.Duration // zero before the first wait
}

// wait waits for the next pause, and reports false if ctx ended first.
func (p *backoff) wait(ctx context.Context) bool {
	if p.next == 0 {
		p.next = 100 * time.Millisecond
	}
	t := time.NewTimer(p.next)
	defer t.Stop()
	p.next = min(2*p.next, 2*time.Second)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
