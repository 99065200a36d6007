// Package memory is an event bus inside one process, for tests and
// single-process demos. It has the same queues as events/rabbitmq, and the
// same fan-out, competing consumers, retries and dead letters, but no
// broker: events live only as long as the process.
//
// One Bus plays the broker and every instance's connection at once, so all
// the instances of a test or demo must share the same Bus.
package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/internal/queues"
	"github.com/hive-workshop/microservices-go/hive/internal/clip"
)

// Options tune a Bus. A zero field takes its default.
type Options struct {
	// Namespace is the first part of every queue's name, as in
	// events/rabbitmq. Default "hive".
	Namespace string

	// Logger gets the bus's log lines: retries, dead letters, panics.
	// Default slog.Default().
	Logger *slog.Logger

	// MaxAttempts is how many times in all an event is handed to a failing
	// handler before it goes to the dead letters. Default 8.
	MaxAttempts int

	// RetryDelay is how long a failed event waits before its second
	// attempt; every attempt after that waits twice as long as the one
	// before, up to MaxRetryDelay. Default 1s.
	RetryDelay time.Duration

	// MaxRetryDelay caps the wait between two attempts. Default 30s (see
	// events/rabbitmq's Options, whose schedule this is too).
	MaxRetryDelay time.Duration

	// Prefetch is how many events one subscription handles at once.
	// Default 16.
	Prefetch int
}

func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = "hive"
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
	if o.Prefetch <= 0 {
		o.Prefetch = 16
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Bus is an in-process events.Bus. Create it with New; it is safe for
// concurrent use.
type Bus struct {
	namespace string
	opts      Options

	mu     sync.Mutex
	queues map[string]*queue // by name; a queue's bindings are guarded by mu too
	marks  map[string]bool   // patterns of broadcast subscriptions, once made: they count as delivery
	subs   map[*subscription]bool
	later  map[*time.Timer]bool // delayed events waiting for their time
	closed bool
}

var (
	_ events.Bus              = (*Bus)(nil)
	_ events.DeadLetterKeeper = (*Bus)(nil)
)

// New returns an empty bus whose queues are named after the namespace
// (see Options).
func New(opts Options) *Bus {
	opts = opts.withDefaults()
	return &Bus{
		namespace: opts.Namespace,
		opts:      opts,
		queues:    make(map[string]*queue),
		marks:     make(map[string]bool),
		subs:      make(map[*subscription]bool),
		later:     make(map[*time.Timer]bool),
	}
}

// Publish puts a copy of e into every queue bound with a pattern that
// matches e.Type, and returns when they all have it. If no service
// subscribes to e.Type, not even with a broadcast subscription that has no
// instance running now, it fails with events.ErrNoSubscriber, as
// events/rabbitmq does: a tap alone does not count, though it gets its
// copy.
func (b *Bus) Publish(ctx context.Context, e events.Event) error {
	if e.Type == "" {
		return errors.New("memory: publish: the event has no Type")
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("memory: publish %s: %w", e.Type, events.ErrClosed)
	}
	var matching []*queue
	delivered := false
	for _, q := range b.queues {
		if q.matches(e.Type) {
			matching = append(matching, q)
			delivered = delivered || !q.broadcast
		}
	}
	for pattern := range b.marks {
		delivered = delivered || events.Match(pattern, e.Type)
	}
	b.mu.Unlock()
	if !delivered {
		// The queues of single instances get it anyway, as on RabbitMQ:
		// a tap sees every event published.
		matching = slices.DeleteFunc(matching, func(q *queue) bool { return !q.broadcast })
	}
	for _, q := range matching {
		// Each queue gets its own copy of the body, so that neither the
		// publisher nor a handler can change what another handler sees.
		copied := e
		copied.Body = bytes.Clone(e.Body)
		if err := q.put(ctx, message{event: copied, attempt: 1}); err != nil {
			return fmt.Errorf("memory: publish %s: %w", e.Type, err)
		}
	}
	if !delivered {
		return fmt.Errorf("memory: publish %s: %w", e.Type, events.ErrNoSubscriber)
	}
	return nil
}

// PublishAfter publishes e once delay, rounded up to whole seconds as on
// RabbitMQ, has passed; see events.Bus. The event waits in a timer of
// this process: Close drops it, as it drops the events in the queues.
func (b *Bus) PublishAfter(ctx context.Context, delay time.Duration, e events.Event) error {
	if e.Type == "" {
		return errors.New("memory: publish: the event has no Type")
	}
	delay, err := queues.Delay(delay)
	if err != nil {
		return fmt.Errorf("memory: publish %s: %w", e.Type, err)
	}
	if delay == 0 {
		return b.Publish(ctx, e)
	}
	e.Body = bytes.Clone(e.Body) // the caller may change it meanwhile
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("memory: publish %s: %w", e.Type, events.ErrClosed)
	}
	var timer *time.Timer
	timer = time.AfterFunc(delay, func() {
		b.mu.Lock()
		delete(b.later, timer)
		b.mu.Unlock()
		if err := b.Publish(context.Background(), e); err != nil {
			b.opts.Logger.Error("memory: a delayed event was due, and is dropped", "event", e.Type, "id", e.ID, "error", err)
		}
	})
	b.later[timer] = true
	return nil
}

// Subscribe binds the queue of s (see events/rabbitmq for the names) with
// s.Pattern, creating the queue if needed, and starts Prefetch workers that
// hand its events to h.
func (b *Bus) Subscribe(ctx context.Context, s events.Subscription, h events.Handler) (stop func(), err error) {
	if err := queues.Check(s); err != nil {
		return nil, fmt.Errorf("memory: subscribe: %w", err)
	}
	name := queues.Name(b.namespace, s)

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("memory: subscribe %s: %w", name, events.ErrClosed)
	}
	q := b.queues[name]
	if q == nil {
		q = newQueue(name, s.Broadcast)
		b.queues[name] = q
		go q.run()
	}
	q.bindings[s.Pattern] = true
	q.consumers++
	if s.Broadcast && !s.Tap {
		b.marks[s.Pattern] = true
	}

	sub := &subscription{
		bus:      b,
		queue:    q,
		inOrder:  s.InOrder,
		handler:  h,
		ctx:      context.WithoutCancel(ctx),
		stopping: make(chan struct{}),
	}
	b.subs[sub] = true
	workers := b.opts.Prefetch
	if s.InOrder {
		workers = 1
	}
	for range workers {
		sub.workers.Go(sub.work)
	}
	return sub.stop, nil
}

// DeadLetters returns the events of s's queue that were given up on, oldest
// first.
func (b *Bus) DeadLetters(ctx context.Context, s events.Subscription) ([]events.DeadLetter, error) {
	name := queues.Name(b.namespace, s)
	b.mu.Lock()
	q := b.queues[name]
	b.mu.Unlock()
	if q == nil {
		return nil, fmt.Errorf("memory: dead letters of %s: no such queue", name)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.dead), nil
}

// Replay puts the dead letters of s with the given event IDs (all, if none
// are given) back into its queue, as new events: their attempts start
// again.
func (b *Bus) Replay(ctx context.Context, s events.Subscription, ids ...string) (int, error) {
	q, taken, err := b.takeDead(s, ids)
	if err != nil {
		return 0, fmt.Errorf("memory: replay: %w", err)
	}
	for i, letter := range taken {
		if err := q.put(ctx, message{event: letter.Event, attempt: 1}); err != nil {
			// Those not put back stay dead.
			q.mu.Lock()
			q.dead = append(q.dead, taken[i:]...)
			q.mu.Unlock()
			return i, fmt.Errorf("memory: replay: %w", err)
		}
	}
	return len(taken), nil
}

// Purge deletes the dead letters of s with the given event IDs (all, if
// none are given).
func (b *Bus) Purge(_ context.Context, s events.Subscription, ids ...string) (int, error) {
	_, taken, err := b.takeDead(s, ids)
	if err != nil {
		return 0, fmt.Errorf("memory: purge: %w", err)
	}
	return len(taken), nil
}

// takeDead removes the dead letters of s with the given IDs (all, if none
// are given) from its queue, and returns the queue and them.
func (b *Bus) takeDead(s events.Subscription, ids []string) (*queue, []events.DeadLetter, error) {
	name := queues.Name(b.namespace, s)
	b.mu.Lock()
	q := b.queues[name]
	b.mu.Unlock()
	if q == nil {
		return nil, nil, fmt.Errorf("dead letters of %s: no such queue", name)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var taken []events.DeadLetter
	q.dead = slices.DeleteFunc(q.dead, func(letter events.DeadLetter) bool {
		if len(ids) == 0 || slices.Contains(ids, letter.Event.ID) {
			taken = append(taken, letter)
			return true
		}
		return false
	})
	return q, taken, nil
}

// Close stops every subscription, waiting for the handlers in flight, and
// then the queues. Events still waiting in them, or for their delay, are
// dropped.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := slices.Collect(maps.Keys(b.subs))
	for timer := range b.later {
		timer.Stop()
	}
	b.mu.Unlock()

	for _, sub := range subs {
		sub.stop()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, q := range b.queues {
		q.delete()
	}
	return nil
}

// A subscription hands the events of one queue to one handler.
type subscription struct {
	bus      *Bus
	queue    *queue
	inOrder  bool // one event of the queue at a time, across its subscriptions
	handler  events.Handler
	ctx      context.Context // for the handler: the values of Subscribe's context, never cancelled
	stopping chan struct{}   // closed by stop
	workers  sync.WaitGroup
	stopOnce sync.Once
}

func (sub *subscription) work() {
	for sub.next() {
	}
}

// next takes one event and handles it, and reports whether to go on. An
// InOrder subscription takes the queue's turn first, and keeps it until
// the event is handled, so that the queue's events are handled one after
// the other, as RabbitMQ's single active consumer with a prefetch of 1
// does.
func (sub *subscription) next() bool {
	q := sub.queue
	if sub.inOrder {
		select {
		case <-sub.stopping:
			return false
		case q.turn <- struct{}{}:
			defer func() { <-q.turn }()
		}
	}
	select {
	case <-sub.stopping:
		return false
	case m := <-q.out:
		select {
		case <-sub.stopping:
			// select picks at random when both cases are ready: an
			// event taken as the subscription stops is not handled,
			// but put back, as RabbitMQ requeues an unacked message.
			q.putBack(m)
			return false
		default:
		}
		sub.handle(m)
		return true
	}
}

// handle runs the handler on m. A failed event goes back into the queue
// after RetryDelay, or after MaxAttempts into the dead letters. Meanwhile
// the worker is free for the next event: a failing event never blocks the
// queue.
func (sub *subscription) handle(m message) {
	opts, q := sub.bus.opts, sub.queue
	err := queues.Call(sub.ctx, opts.Logger, sub.handler, m.event)
	for sub.inOrder && err != nil && m.attempt < opts.MaxAttempts && !events.IsPermanent(err) {
		// In place: the events behind it wait, as on RabbitMQ.
		wait := queues.RetryDelay(m.attempt, opts.RetryDelay, opts.MaxRetryDelay)
		opts.Logger.Warn("memory: handler failed; will retry in place, the events behind it wait", "queue", q.name,
			"event", m.event.Type, "id", m.event.ID, "attempt", m.attempt, "error", clip.Text(err.Error(), clip.ForLog), "retry_in", wait)
		timer := time.NewTimer(wait)
		select {
		case <-sub.stopping:
			timer.Stop()
			q.putBack(m)
			return
		case <-timer.C:
		}
		m.attempt++
		err = queues.Call(sub.ctx, opts.Logger, sub.handler, m.event)
	}
	switch {
	case err == nil:
	case m.attempt < opts.MaxAttempts && !events.IsPermanent(err):
		wait := queues.RetryDelay(m.attempt, opts.RetryDelay, opts.MaxRetryDelay)
		opts.Logger.Warn("memory: handler failed; will retry", "queue", q.name, "event", m.event.Type, "id", m.event.ID,
			"attempt", m.attempt, "error", clip.Text(err.Error(), clip.ForLog), "retry_in", wait)
		m.attempt++
		time.AfterFunc(wait, func() { q.put(context.Background(), m) })
	default:
		reason := queues.Reason(m.attempt, err)
		opts.Logger.Error("memory: giving up on an event; moved it to the dead letters", "queue", q.name,
			"event", m.event.Type, "id", m.event.ID, "reason", reason)
		q.mu.Lock()
		q.dead = append(q.dead, events.DeadLetter{Event: m.event, Reason: reason})
		q.mu.Unlock()
	}
}

// stop stops taking events and waits for the handlers in flight. A
// broadcast queue goes away with its last subscription, like the
// per-instance queue on RabbitMQ. Calls after the first do nothing.
func (sub *subscription) stop() {
	sub.stopOnce.Do(func() {
		close(sub.stopping)
		sub.workers.Wait()

		b := sub.bus
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs, sub)
		q := sub.queue
		q.consumers--
		if q.broadcast && q.consumers == 0 {
			q.delete()
			delete(b.queues, q.name)
		}
	})
}
