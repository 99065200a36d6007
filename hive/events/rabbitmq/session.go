package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"
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
	host string // the broker's host:port
	conn *amqp.Connection
	pub  *amqp.Channel // in confirm mode: the broker acks every message it has stored
	dead chan struct{} // closed once conn or pub has closed
	why  *amqp.Error   // why it died (nil if closed on purpose); read it after dead is closed

	// sending is held from reading the channel's next sequence number
	// until the message that gets it is sent, so that no other message
	// takes that number in between.
	sending sync.Mutex

	mu      sync.Mutex
	waiting map[uint64]*receipt // messages sent and not yet confirmed, by sequence number
	gone    bool                // pub has closed: no answer will come any more
}

// A receipt is the broker's answer to one published message.
type receipt struct {
	answered chan struct{} // closed once err is set
	returned bool          // the broker returned the message: no queue took it
	err      error         // nil if the broker has stored the message
}

// sequenceHeader carries a message's sequence number on its publishing
// channel. The broker sends a returned message back whole, headers
// included, and the number tells whose message it is. (Event IDs cannot
// do that: two publishers may send the same event at once.)
const sequenceHeader = "hive-sequence"

// Why the broker did not take a message.
var (
	// errLost says that the session died before the broker answered: the
	// broker may or may not have the message. Sending it again is safe for
	// at-least-once delivery.
	errLost = errors.New("connection closed before RabbitMQ confirmed the message")

	// errWriteFailed says that writing the message to the connection
	// failed (a reset, a broken pipe): the connection is going.
	errWriteFailed = errors.New("writing to RabbitMQ failed")

	// errUnroutable says that the broker returned the message, because no
	// queue is bound to take it.
	errUnroutable = errors.New("no queue takes the message")

	errNacked = errors.New("RabbitMQ refused the message (nack)")
)

// dialTimeout bounds a dial, handshake included, so that New fails soon on
// an address where no broker answers, rather than hanging.
const dialTimeout = 5 * time.Second

// dial opens a session to one of the brokers, trying each once, in turn,
// from b.next on; the next dial starts with the broker after the one it
// connected to. Only New and keepConnected call it, one at a time.
func (b *Bus) dial(ctx context.Context) (*session, error) {
	var errs []error
	for range b.brokers {
		br := b.brokers[b.next]
		b.next = (b.next + 1) % len(b.brokers)
		s, err := b.dialOne(ctx, br)
		if err == nil {
			return s, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", br.host, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return nil, errors.Unwrap(errs[0])
	}
	return nil, errors.Join(errs...)
}

// dialOne opens a session to br and declares the namespace's exchanges on
// it.
func (b *Bus) dialOne(ctx context.Context, br broker) (*session, error) {
	props := amqp.NewConnectionProperties()
	// Shown by the management UI and `rabbitmqctl list_connections`.
	props.SetClientConnectionName(b.namespace)
	// A copy of the TLS settings: amqp091-go writes the URL's host into
	// its ServerName, which must not stick to the next broker's dial.
	conn, err := amqp.DialConfig(br.url, amqp.Config{Properties: props, Dial: dialContext(ctx), TLSClientConfig: b.opts.TLS.Clone()})
	if err != nil {
		return nil, err
	}
	s, err := newSession(conn, b.layout)
	if err != nil {
		conn.Close()
		return nil, err
	}
	s.host = br.host
	return s, nil
}

// hosts names the brokers, for messages.
func (b *Bus) hosts() string {
	hosts := make([]string, len(b.brokers))
	for i, br := range b.brokers {
		hosts[i] = br.host
	}
	return strings.Join(hosts, ", ")
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

// newSession opens the publishing channel on conn, declares the exchanges
// of l, and closes dead as soon as either the connection or the channel
// closes.
func newSession(conn *amqp.Connection, l layout) (*session, error) {
	pub, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := pub.Confirm(false); err != nil {
		return nil, fmt.Errorf("confirm mode: %w", err)
	}
	if err := l.declareExchanges(pub); err != nil {
		return nil, err
	}
	s := &session{conn: conn, pub: pub, dead: make(chan struct{}), waiting: make(map[uint64]*receipt)}
	// Unbuffered, and read by one goroutine: see listen.
	returns := pub.NotifyReturn(make(chan amqp.Return))
	confirms := pub.NotifyPublish(make(chan amqp.Confirmation))
	go s.listen(returns, confirms)

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

// An outgoing message: where it goes, and whether the broker must return
// it when no queue takes it.
type outgoing struct {
	exchange, key string
	msg           amqp.Publishing
	mandatory     bool
}

// publish sends the messages out, one after the other without waiting,
// and then waits for the broker's answers: nil once the broker has stored
// every one (a mandatory one in at least one queue), errUnroutable if no
// queue took a mandatory one, errLost if the session died first. Many
// goroutines may publish at once: each waits for its own answers.
func (s *session) publish(ctx context.Context, out ...outgoing) error {
	receipts := make([]*receipt, 0, len(out))
	for _, o := range out {
		r, err := s.sendOne(ctx, o)
		if err != nil {
			return err
		}
		receipts = append(receipts, r)
	}
	var errs []error
	for _, r := range receipts {
		select {
		case <-r.answered:
			errs = append(errs, r.err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// sendOne sends o and returns its receipt.
func (s *session) sendOne(ctx context.Context, o outgoing) (*receipt, error) {
	r, err := s.send(ctx, o)
	if errors.Is(err, errWriteFailed) {
		// The message did not reach the broker whole. amqp091-go closes
		// the connection after a failed write, but in a goroutine of its
		// own: until it has, the session still looks alive, and sending
		// again at once would only fail again.
		select {
		case <-s.dead:
			return nil, errLost
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r, err
}

// send publishes o with its sequence number in a header, and returns the
// receipt that listen fills in when the broker answers.
func (s *session) send(ctx context.Context, o outgoing) (*receipt, error) {
	msg := o.msg
	s.sending.Lock()
	defer s.sending.Unlock()
	seq := s.pub.GetNextPublishSeqNo()
	msg.Headers = maps.Clone(msg.Headers)
	if msg.Headers == nil {
		msg.Headers = amqp.Table{}
	}
	msg.Headers[sequenceHeader] = int64(seq)

	// The receipt is waiting before the message goes out, so that listen
	// finds it however fast the answer comes.
	r := &receipt{answered: make(chan struct{})}
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return nil, errLost
	}
	s.waiting[seq] = r
	s.mu.Unlock()

	if err := s.pub.PublishWithContext(ctx, o.exchange, o.key, o.mandatory, false, msg); err != nil {
		s.mu.Lock()
		delete(s.waiting, seq)
		s.mu.Unlock()
		if ctx.Err() != nil {
			return nil, err // the caller's time is up, not the connection
		}
		// The connection may be closing before its channels know it.
		if !s.alive() || errors.Is(err, amqp.ErrClosed) {
			return nil, errLost
		}
		var netErr net.Error
		if errors.As(err, &netErr) {
			return nil, errWriteFailed
		}
		return nil, err
	}
	return r, nil
}

// listen hands the broker's answers to the receipts waiting for them,
// until the publishing channel closes; then it fails the receipts still
// waiting with errLost, so that no publisher waits for ever.
//
// RabbitMQ sends basic.return for an unroutable message before the
// basic.ack for it, on the same channel, and amqp091-go passes both on in
// that order. Reading both here, one at a time, from unbuffered channels
// makes sure that a return is recorded before its ack settles the receipt.
// (Nothing here may wait for a publisher: amqp091-go holds its locks while
// it passes an answer on.)
func (s *session) listen(returns <-chan amqp.Return, confirms <-chan amqp.Confirmation) {
	for {
		select {
		case ret, ok := <-returns:
			if !ok {
				returns = nil // closed with the channel; confirms closes next
				continue
			}
			seq, _ := ret.Headers[sequenceHeader].(int64)
			s.mu.Lock()
			if r := s.waiting[uint64(seq)]; r != nil {
				r.returned = true
			}
			s.mu.Unlock()
		case c, ok := <-confirms:
			if !ok {
				s.fail()
				return
			}
			s.mu.Lock()
			r := s.waiting[c.DeliveryTag]
			delete(s.waiting, c.DeliveryTag)
			s.mu.Unlock()
			if r == nil {
				continue // its send failed after all
			}
			switch {
			case !c.Ack:
				r.err = errNacked
			case r.returned:
				r.err = errUnroutable
			}
			close(r.answered)
		}
	}
}

// fail answers every receipt still waiting with errLost, and refuses new
// ones.
func (s *session) fail() {
	s.mu.Lock()
	waiting := s.waiting
	s.waiting, s.gone = nil, true
	s.mu.Unlock()
	for _, r := range waiting {
		r.err = errLost
		close(r.answered)
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
			return nil, fmt.Errorf("waiting for a connection to %s: %w", b.hosts(), ctx.Err())
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
		b.log.Warn("rabbitmq: connection lost; reconnecting", "broker", s.host, "reason", s.why)
		s.conn.Close() // in case only the publishing channel died

		var pause backoff
		next, err := b.dial(b.life)
		for err != nil {
			b.log.Warn("rabbitmq: reconnect failed; trying again", "brokers", b.hosts(), "error", err)
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
		b.log.Info("rabbitmq: reconnected", "broker", next.host)
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
