// Package rabbitmq is the event bus on RabbitMQ, for real deployments.
//
// The layout on the broker, for namespace "hive" and a subscription of the
// kitchen service named "orders":
//
//	exchange hive                       topic, durable; routing key = event type
//	queue    hive.kitchen.orders        bound to exchange hive with the pattern,
//	                                    shared by all kitchen instances
//	queue    hive.kitchen.orders.dead   events given up on, for a person to look at
//	exchange hive.wait                  headers: routes by the hive-wait header
//	queue    hive.retry.4s              a delay tier: failed events wait here 4s,
//	                                    then expire back into their work queue
//	exchange hive.broadcast             topic: a transient copy of every event,
//	                                    for queues of one instance each
//	exchange hive.delay                 headers: the entry of the delay chain
//	queue    hive.delay.4s              a delay tier: delayed events wait here 4s,
//	                                    then expire to exchange hive.delay.4s.past,
//	                                    on to the next tier or to exchange hive
//
// The delay tiers are shared by the whole namespace, one per delay of the
// retry schedule (1s, 2s, 4s, ... 30s by default): a queue's messages
// expire only from its head, so each tier holds messages of one delay.
// Delayed events (PublishAfter) have 17 tiers of their own, 1s to 65536s,
// and wait in those whose delays add up to theirs (see delayChain).
//
// A broadcast subscription gets a queue per instance (named
// hive.kitchen.orders.<instance>), bound to exchange hive.broadcast,
// exclusive to the instance's connection, so it goes away with it; and a
// durable mark, hive.kitchen.orders.broadcast, bound to exchange hive,
// which keeps nothing but says that the service wants the news. A tap,
// such as `hive subscribe`, gets the per-instance queue and no mark.
//
// Events are persistent and mandatory, Publish waits for the broker's
// confirm, and a message is acked only after its handler returned: that
// makes delivery at least once. An event that no queue on exchange hive
// takes comes back, and Publish says so (events.ErrNoSubscriber) instead
// of losing it silently: a tap alone does not make somebody who will do
// the work. A lost connection is dialed again and every subscription
// resumes by itself (see keepConnected).
package rabbitmq

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/internal/queues"
)

// Options tune a Bus. A zero field takes its default.
type Options struct {
	// Namespace names the exchange, and is the first part of every queue's
	// name (see the package comment). Default "hive".
	Namespace string

	// Logger gets the bus's log lines: reconnects, retries, dead letters.
	// Default slog.Default().
	Logger *slog.Logger

	// MaxAttempts is how many times in all an event is handed to a failing
	// handler before it goes to the dead-letter queue. Default 8.
	MaxAttempts int

	// RetryDelay is how long a failed event waits before its second
	// attempt; every attempt after that waits twice as long as the one
	// before, up to MaxRetryDelay. Default 1s.
	RetryDelay time.Duration

	// MaxRetryDelay caps the wait between two attempts. Default 30s: with
	// the other defaults, an event is tried for 91 seconds (1s, 2s, 4s,
	// 8s, 16s, 30s, 30s apart) before it is given up on.
	MaxRetryDelay time.Duration

	// DeadLetterLimit is how many messages a dead-letter queue keeps;
	// when it is full, the oldest goes. Dead letters wait for a person, and
	// a queue nobody looks at must not fill the broker's disk. Default
	// 10000.
	DeadLetterLimit int

	// Prefetch is how many unacked events the broker hands one
	// subscription at a time, and so how many it handles at once.
	// Default 16.
	Prefetch int

	// QueueType is the type of the durable queues: Classic or Quorum (see
	// PROTOCOL.md). Every service of a namespace must use the same type;
	// RabbitMQ refuses to declare a queue as the other type. Default
	// Classic: a hive on one broker gains nothing from quorum queues, and
	// the queues of an existing namespace are classic.
	QueueType string

	// MaxBodySize is the largest message, in bytes, that Publish sends and
	// a subscription decodes; a bigger one goes to the dead-letter queue
	// unread. Anyone can publish to the exchange, and decoding a huge
	// message would cost memory and time before its handler could refuse
	// it. Default 1 MiB.
	MaxBodySize int

	// TLS configures the connections to amqps:// URLs: RootCAs holds the
	// CA that signed the brokers' certificates (hive/env reads it from
	// HIVE_AMQP_CA). Each connection gets a copy, whose ServerName is the
	// host of its URL. Default nil: the system's CAs.
	TLS *tls.Config
}

func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = "hive"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = queues.DefaultAttempts
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = queues.DefaultRetryDelay
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = max(queues.DefaultMaxRetryDelay, o.RetryDelay)
	}
	if o.DeadLetterLimit <= 0 {
		o.DeadLetterLimit = 10000
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 16
	}
	if o.QueueType == "" {
		o.QueueType = Classic
	}
	if o.MaxBodySize <= 0 {
		o.MaxBodySize = 1 << 20
	}
	return o
}

// Bus is an events.Bus on RabbitMQ. Create it with New; it is safe for
// concurrent use.
type Bus struct {
	brokers   []broker // the nodes to connect to, tried in turn
	next      int      // the broker that dial tries first (New, then keepConnected alone)
	namespace string
	layout    layout // the names of its exchanges and queues
	log       *slog.Logger
	opts      Options

	// life ends when Close is called; reconnecting and every subscription
	// run until then, as goroutines counted by running.
	life    context.Context
	endLife context.CancelFunc
	running sync.WaitGroup

	mu       sync.Mutex
	current  *session        // the newest connection; it may have died since
	replaced chan struct{}   // closed when current is replaced
	durable  map[string]bool // names of the durable queues declared, for DeleteNamespace
	delaying bool            // the delay chain is declared (see PublishAfter)

	// routed holds the event types that a queue took once. RabbitMQ
	// returns an event whose queue is down on a node of a cluster (a
	// classic queue) just as it returns one that no queue is bound to:
	// after one was taken, a return means the queue is down (or was
	// deleted), and Publish says so, with events.ErrNotStored, rather than
	// that nobody subscribes.
	routed sync.Map
}

var (
	_ events.Bus              = (*Bus)(nil)
	_ events.DeadLetterKeeper = (*Bus)(nil)
)

// A broker is one node that the Bus may connect to.
type broker struct {
	url  string // holds the password: log host instead
	host string // host:port
}

// New connects to the broker at amqpURL (amqp://user:password@host:port/)
// and declares the namespace's exchange (see Options). It fails at once if
// the broker does not answer; later, the Bus repairs lost connections by
// itself.
//
// amqpURL may list the nodes of a cluster, separated by commas. The Bus
// connects to one of them, and when that connection is lost, or a node
// does not answer, it tries the next, in the order of the list, going round;
// the first it tries is picked at random, so that the instances of a hive
// spread over the nodes instead of all crowding the first.
func New(ctx context.Context, amqpURL string, opts Options) (*Bus, error) {
	var brokers []broker
	for u := range strings.SplitSeq(amqpURL, ",") {
		uri, err := amqp.ParseURI(strings.TrimSpace(u))
		if err != nil {
			// The parse error quotes the whole URL, password and all.
			if urlErr, ok := errors.AsType[*url.Error](err); ok {
				err = urlErr.Err
			}
			return nil, fmt.Errorf("rabbitmq: bad AMQP URL (%d of %d): %w", len(brokers)+1, strings.Count(amqpURL, ",")+1, err)
		}
		brokers = append(brokers, broker{url: strings.TrimSpace(u), host: net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port))})
	}
	opts = opts.withDefaults()
	if opts.QueueType != Classic && opts.QueueType != Quorum {
		return nil, fmt.Errorf("rabbitmq: queue type %q: use %s or %s", opts.QueueType, Classic, Quorum)
	}
	b := &Bus{
		brokers:   brokers,
		next:      rand.IntN(len(brokers)),
		namespace: opts.Namespace,
		layout:    layout{opts.Namespace},
		log:       opts.Logger,
		opts:      opts,
		durable:   make(map[string]bool),
		replaced:  make(chan struct{}),
	}
	var err error
	b.current, err = b.dial(ctx)
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		// A broker answered: `make up` is no help.
		return nil, fmt.Errorf("rabbitmq: cannot connect to %s: %w", b.hosts(), err)
	}
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: cannot connect to %s: %w: run `make up`, or set HIVE_AMQP_URL", b.hosts(), err)
	}
	b.life, b.endLife = context.WithCancel(context.Background())
	b.running.Go(b.keepConnected)
	return b, nil
}

// Publish sends e to the namespace's exchange with e.Type as routing key,
// and returns nil once the broker has confirmed that it has the message.
// A second, transient copy goes to the broadcast exchange, for the queues
// of single instances (broadcast subscriptions and taps); it goes out
// whatever happens to the first, so a tap sees every event published,
// even one that no service takes.
//
// The first message is mandatory: if no queue of a service is bound with
// a pattern that matches e.Type, the broker returns it instead of
// dropping it, and Publish fails with an error that wraps
// events.ErrNoSubscriber. Taps are bound to the broadcast exchange only,
// so they never make an event look delivered. If the broker refuses the
// event (a nack), or returns an event of a type that a queue took before
// (its queue is down), or does not confirm it before ctx ends, Publish
// fails with an error that wraps events.ErrNotStored.
//
// While the connection is down, Publish waits for the Bus to reconnect,
// until ctx ends: give it a deadline. If the connection breaks before the
// confirm came, Publish sends e again on the next connection, so a
// subscriber may see it twice; at-least-once delivery allows that.
func (b *Bus) Publish(ctx context.Context, e events.Event) error {
	msg, err := b.message(e)
	if err != nil {
		return err
	}
	// Broadcast queues are not durable: a persistent copy would only cost.
	copied := msg
	copied.DeliveryMode = amqp.Transient
	for {
		s, err := b.session(ctx)
		if err == nil {
			// Both at once, and then both answers: one round trip.
			err = s.publish(ctx,
				outgoing{exchange: b.layout.workExchange(), key: e.Type, msg: msg, mandatory: true},
				outgoing{exchange: b.layout.broadcastExchange(), key: e.Type, msg: copied})
		}
		switch {
		case errors.Is(err, errLost):
			continue
		case err == nil:
			b.routed.Store(e.Type, true)
			return nil
		case errors.Is(err, errUnroutable):
			if _, ok := b.routed.Load(e.Type); ok {
				return fmt.Errorf("rabbitmq: publish %s: %w: no queue took it, though one did before: "+
					"a subscriber's queue is down (a classic queue on a stopped node of a cluster; see HIVE_QUEUE_TYPE) or was deleted",
					e.Type, events.ErrNotStored)
			}
			return fmt.Errorf("rabbitmq: publish %s: %w (no service's queue on exchange %s is bound to it)", e.Type, events.ErrNoSubscriber, b.layout.workExchange())
		case errors.Is(err, events.ErrClosed):
			return fmt.Errorf("rabbitmq: publish %s: %w", e.Type, err)
		case ctx.Err() != nil:
			// A quorum queue without a majority of its nodes does not
			// answer until it has them again.
			return fmt.Errorf("rabbitmq: publish %s: %w: no confirm from RabbitMQ in time: %w", e.Type, events.ErrNotStored, err)
		default:
			return fmt.Errorf("rabbitmq: publish %s: %w: %w", e.Type, events.ErrNotStored, err)
		}
	}
}

// message returns the persistent message that carries e.
func (b *Bus) message(e events.Event) (amqp.Publishing, error) {
	if e.Type == "" {
		return amqp.Publishing{}, errors.New("rabbitmq: publish: the event has no Type")
	}
	body, err := json.Marshal(e)
	if err != nil {
		return amqp.Publishing{}, fmt.Errorf("rabbitmq: publish %s: %w", e.Type, err)
	}
	if len(body) > b.opts.MaxBodySize {
		// Every subscription would refuse it unread.
		return amqp.Publishing{}, fmt.Errorf("rabbitmq: publish %s: the event is %d bytes, over the limit of %d (Options.MaxBodySize)",
			e.Type, len(body), b.opts.MaxBodySize)
	}
	return amqp.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent, // written to disk, kept across a broker restart
		MessageId:    e.ID,
		Type:         e.Type,
		Timestamp:    e.Time,
		Body:         body,
	}, nil
}

// PublishAfter sends e into the delay tiers, and returns nil once the
// broker has confirmed that it has the message; see events.Bus. The delay
// is rounded up to whole seconds, and e waits in the tiers whose delays
// add up to it, longest first (PROTOCOL.md, "Delay tiers"); when the last
// one dead-letters it, the chain's end passes it to the namespace's
// exchanges with e.Type as routing key, as if it were published then.
// The first delayed event of a Bus declares the tiers and their chain of
// exchanges.
//
// The broker cannot tell now who will subscribe then, so no
// events.ErrNoSubscriber; other errors are those of Publish.
func (b *Bus) PublishAfter(ctx context.Context, delay time.Duration, e events.Event) error {
	delay, err := queues.Delay(delay)
	if err != nil {
		return fmt.Errorf("rabbitmq: publish %s: %w", e.Type, err)
	}
	if delay == 0 {
		return b.Publish(ctx, e)
	}
	msg, err := b.message(e)
	if err != nil {
		return err
	}
	msg.Headers = delayHeaders(delay)
	for redeclared := false; ; {
		if err := b.declareDelays(ctx, redeclared); err != nil {
			return fmt.Errorf("rabbitmq: publish %s: %w: %w", e.Type, events.ErrNotStored, err)
		}
		s, err := b.session(ctx)
		if err == nil {
			err = s.publish(ctx, outgoing{exchange: b.layout.delayExchange(), key: e.Type, msg: msg, mandatory: true})
		}
		switch {
		case errors.Is(err, errLost):
			continue
		case err == nil:
			return nil
		case errors.Is(err, errUnroutable) && !redeclared:
			// Somebody deleted a tier: declare them again, once.
			redeclared = true
			continue
		case errors.Is(err, events.ErrClosed):
			return fmt.Errorf("rabbitmq: publish %s: %w", e.Type, err)
		default:
			return fmt.Errorf("rabbitmq: publish %s: %w: %w", e.Type, events.ErrNotStored, err)
		}
	}
}

// declareDelays declares the delay chain, unless this Bus has done so
// already and again is false. The chain is durable: once declared, it
// stays on the broker, restarts included, until the namespace is deleted.
func (b *Bus) declareDelays(ctx context.Context, again bool) error {
	b.mu.Lock()
	done := b.delaying && !again
	b.mu.Unlock()
	if done {
		return nil
	}
	_, ch, err := b.channel(ctx)
	if err != nil {
		return err
	}
	defer ch.Close()
	names, err := b.layout.declareDelayChain(ch, b.opts.QueueType)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, q := range names {
		b.durable[q] = true
	}
	b.delaying = true
	return nil
}

// DeadLetters returns the messages in the dead-letter queue of s, oldest
// first, without removing them: it takes every message unacked and hands
// them all back by closing its channel. While it looks, other readers of
// the queue see fewer messages.
func (b *Bus) DeadLetters(ctx context.Context, s events.Subscription) ([]events.DeadLetter, error) {
	var letters []events.DeadLetter
	err := b.eachDead(ctx, s, "dead letters", func(_ *session, d amqp.Delivery, letter events.DeadLetter) (bool, error) {
		letters = append(letters, letter)
		return false, nil
	})
	return letters, err
}

// Replay moves the dead letters of s with the given event IDs (all, if
// none are given) back into its work queue: a copy goes there through the
// default exchange, without the headers that counted its attempts and
// said why it died, and once the broker has the copy the dead letter is
// acked. The body, trace id and all, is untouched.
func (b *Bus) Replay(ctx context.Context, s events.Subscription, ids ...string) (int, error) {
	n := 0
	err := b.eachDead(ctx, s, "replay", func(sess *session, d amqp.Delivery, letter events.DeadLetter) (bool, error) {
		if !chosen(letter, ids) {
			return false, nil
		}
		msg := copyOf(d, nil)
		delete(msg.Headers, attemptHeader)
		if err := sess.publish(ctx, outgoing{exchange: "", key: b.layout.work(s), msg: msg, mandatory: true}); err != nil {
			if errors.Is(err, errUnroutable) {
				err = fmt.Errorf("the queue %s does not exist: start the service once, so that it declares it", b.layout.work(s))
			}
			return false, err
		}
		n++
		return true, nil
	})
	return n, err
}

// Purge deletes the dead letters of s with the given event IDs (all, if
// none are given).
func (b *Bus) Purge(ctx context.Context, s events.Subscription, ids ...string) (int, error) {
	n := 0
	err := b.eachDead(ctx, s, "purge", func(_ *session, _ amqp.Delivery, letter events.DeadLetter) (bool, error) {
		if !chosen(letter, ids) {
			return false, nil
		}
		n++
		return true, nil
	})
	return n, err
}

// chosen reports whether letter is one of ids, or ids is empty.
func chosen(letter events.DeadLetter, ids []string) bool {
	return len(ids) == 0 || slices.Contains(ids, letter.Event.ID)
}

// eachDead hands every message of the dead-letter queue of s to f, oldest
// first, taking them unacked on a channel of its own; f says whether to
// ack (remove) the message. The others go back to the queue, in their
// order, when the channel closes at the end.
func (b *Bus) eachDead(ctx context.Context, s events.Subscription, what string,
	f func(sess *session, d amqp.Delivery, letter events.DeadLetter) (ack bool, err error)) error {
	queue := b.layout.dead(s)
	fail := func(err error) error { return fmt.Errorf("rabbitmq: %s of %s: %w", what, queue, err) }
	sess, ch, err := b.channel(ctx)
	if err != nil {
		return fail(err)
	}
	defer ch.Close()

	for ctx.Err() == nil {
		d, ok, err := ch.Get(queue, false)
		if err != nil {
			return fail(err)
		}
		if !ok {
			return nil
		}
		reason, _ := d.Headers[reasonHeader].(string)
		letter := events.DeadLetter{Reason: reason}
		if e, err := events.Decode(d.Body); err == nil {
			letter.Event = e
		} else {
			letter.Message = d.Body
		}
		ack, err := f(sess, d, letter)
		if err != nil {
			return fail(err)
		}
		if ack {
			if err := d.Ack(false); err != nil {
				return fail(err)
			}
		}
	}
	return fail(ctx.Err())
}

// DeleteNamespace deletes the exchanges and the durable queues this Bus has
// declared, and the delay tiers, with the messages in them; broadcast queues go away with their
// connection anyway. Tests call it to leave the broker as they found it. It
// works after Close too.
func (b *Bus) DeleteNamespace(ctx context.Context) error {
	b.mu.Lock()
	declared := make([]string, 0, len(b.durable))
	for q := range b.durable {
		declared = append(declared, q)
	}
	b.mu.Unlock()
	// The delay tiers too, whoever declared them: their names are fixed,
	// and another process of the namespace may have sent delayed events.
	_, tiers, _ := b.layout.delayChain(b.opts.QueueType)
	for _, q := range tiers {
		declared = append(declared, q.name)
	}

	return b.deleting(ctx, "delete namespace "+b.namespace, func(ch *amqp.Channel) error {
		if err := deleteQueues(ch, declared); err != nil {
			return err
		}
		for _, x := range b.layout.exchanges() {
			if err := ch.ExchangeDelete(x, false, false); err != nil {
				return fmt.Errorf("delete exchange %s: %w", x, err)
			}
		}
		return nil
	})
}

// DeleteQueues deletes the queues of subscriptions in the bus's namespace,
// whoever declared them: each one's work queue and dead-letter queue, with
// the messages in them, and the retry queue that hive made before delay
// tiers; of a broadcast subscription, its mark. It is the way to be rid of a queue that
// no handler reads any more, such as one left behind by a renamed pattern
// or queue (see hive.Queue), or one declared with other arguments by an
// older hive; a queue that does not exist is no error. (The delay tiers
// belong to the whole namespace, and stay.)
func (b *Bus) DeleteQueues(ctx context.Context, subs ...events.Subscription) error {
	var names []string
	for _, s := range subs {
		if s.Broadcast {
			// Its other queues belong to its instances' connections.
			names = append(names, b.layout.mark(s))
			continue
		}
		names = append(names, b.layout.work(s), b.layout.dead(s), b.layout.legacyRetry(s))
	}
	return b.deleting(ctx, "delete queues", func(ch *amqp.Channel) error {
		return deleteQueues(ch, names)
	})
}

// deleting runs del on a channel of a connection of its own, to the first
// broker that answers, so that it works whatever state the bus's own
// session is in, after Close too.
func (b *Bus) deleting(ctx context.Context, what string, del func(*amqp.Channel) error) error {
	var conn *amqp.Connection
	var errs []error
	for _, br := range b.brokers {
		c, err := amqp.DialConfig(br.url, amqp.Config{Dial: dialContext(ctx), TLSClientConfig: b.opts.TLS.Clone()})
		if err == nil {
			conn = c
			break
		}
		errs = append(errs, fmt.Errorf("%s: %w", br.host, err))
	}
	if conn == nil {
		return fmt.Errorf("rabbitmq: %s: cannot connect: %w", what, errors.Join(errs...))
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("rabbitmq: %s: %w", what, err)
	}
	if err := del(ch); err != nil {
		return fmt.Errorf("rabbitmq: %s: %w", what, err)
	}
	return nil
}

// deleteQueues deletes the queues called names; RabbitMQ deletes a queue
// that does not exist without complaint.
func deleteQueues(ch *amqp.Channel, names []string) error {
	for _, q := range names {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			return fmt.Errorf("delete queue %s: %w", q, err)
		}
	}
	return nil
}

// Close stops every subscription, waiting for the handlers in flight to
// return and their messages to be settled, and closes the connection.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.endLife()
	b.mu.Unlock()
	b.running.Wait()

	// No goroutine replaces current any more.
	if err := b.current.conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("rabbitmq: close: %w", err)
	}
	return nil
}
