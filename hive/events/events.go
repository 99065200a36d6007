// Package events carries events between services: publish/subscribe.
//
// A service emits an event, such as "order.placed", without knowing who
// listens. Every service that subscribed to that type gets it once
// (fan-out); the instances of one service share the work (competing
// consumers). Two implementations share the Bus interface: events/rabbitmq
// for real deployments and events/memory for tests and single-process demos.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Event is the envelope every event travels in.
type Event struct {
	ID      string          `json:"id"`                 // unique per event; handlers use it to spot duplicates
	Type    string          `json:"type"`               // dotted name, e.g. "order.placed"; the routing key
	Source  string          `json:"source"`             // the instance ID that emitted it
	TraceID string          `json:"trace_id,omitempty"` // the trace of the request that caused it
	Time    time.Time       `json:"time"`               // when it was emitted
	Body    json.RawMessage `json:"body"`               // the payload, JSON
}

// Handler handles one event. Returning an error means "not handled": the
// bus delivers the event again later, a bounded number of times, and then
// moves it to a dead-letter queue.
type Handler func(ctx context.Context, e Event) error

// Subscription says which events a handler wants and how it shares them.
type Subscription struct {
	// Service is the subscribing service. All instances of one service
	// share one queue per handler, so each event is handled by one of them.
	Service string

	// Name tells apart the handlers of one service; it becomes part of the
	// queue name, so keep it stable across releases.
	Name string

	// Pattern selects event types: words separated by dots, where "*"
	// matches exactly one word and "#" matches zero or more words.
	Pattern string

	// Broadcast gives every instance its own queue, so every instance
	// handles every event. The queue disappears with the instance: a
	// broadcast is news for the instances running when it is published.
	Broadcast bool

	// Tap makes a broadcast subscription that only watches, such as the
	// hive CLI's subscribe: it gets a copy of every matching event, but
	// never counts as somebody who will do the work (see Bus.Publish).
	// A tap must be Broadcast too.
	Tap bool

	// Instance is the subscribing instance's ID; it names broadcast queues.
	Instance string

	// InOrder hands the events of the queue to the handler one at a
	// time, in the order the queue got them, across all instances of the
	// service: one instance reads the queue while the others wait as
	// standbys, and it handles one event at a time. A failing event is
	// tried again in place, after the retry delays, and the events behind
	// it wait: order costs throughput and lets one bad event hold up the
	// rest until it is given up on. Without InOrder, events are handled
	// in no promised order (see PROTOCOL.md, "Order"). It cannot be
	// turned on or off for an existing queue: give the handler a new one.
	// Not for Broadcast subscriptions.
	InOrder bool
}

// Bus publishes events and delivers them to subscribers.
//
// Implementations are safe for concurrent use. Delivery is at least once:
// a handler may see the same event twice and must cope.
type Bus interface {
	// Publish returns nil only once the event is stored safely in the
	// queue of every subscription that matches it (for RabbitMQ:
	// confirmed by the broker). If no service subscribes to it, it
	// returns ErrNoSubscriber and the event is gone. If the bus could not
	// store it now, it returns ErrNotStored: publish it again later. Any
	// error means the event may be lost: publish it again to be sure.
	//
	// Only a service's subscription counts: its shared queue, which
	// keeps the event until one of its instances handles it, or, for a
	// broadcast subscription, the service's mark that it wants the news
	// (its running instances get it). Taps get a copy but do not count,
	// so an event that only a tap sees fails with ErrNoSubscriber.
	Publish(ctx context.Context, e Event) error

	// PublishAfter publishes e to be delivered no earlier than delay
	// from now: it returns nil once the bus keeps the event safely
	// waiting (for RabbitMQ: confirmed, in durable delay tiers that
	// survive a broker restart). The delay is rounded up to whole
	// seconds, and may be at most MaxDelay; 0 or less is Publish.
	// When its time comes, the event goes to the subscriptions that
	// match it then, as if published at that moment. Whether any service
	// subscribes is known only then: PublishAfter does not return
	// ErrNoSubscriber, and an event that no service takes when it is due
	// is dropped (RabbitMQ drops it silently, as it drops any dead letter
	// that no queue takes; the memory bus logs it).
	PublishAfter(ctx context.Context, delay time.Duration, e Event) error

	// Subscribe starts delivering events that match s to h. Delivery goes
	// on until the returned stop function is called; stop waits for
	// handlers in flight to return and settles their messages.
	Subscribe(ctx context.Context, s Subscription, h Handler) (stop func(), err error)

	// Close stops all subscriptions and releases connections.
	Close() error
}

// ErrClosed is returned by a Bus that has been closed.
var ErrClosed = errors.New("events: bus closed")

// ErrNoSubscriber is returned (wrapped) by Publish when no subscription
// matches the event's type, so nobody would ever get it: the bus did not
// keep it. A subscription's queue outlives its instances, so once a
// service has subscribed, its events wait for it even while none of its
// instances runs; this error means that no service has subscribed yet.
// The caller can fail and be tried again later, or decide that the news
// was for nobody.
var ErrNoSubscriber = errors.New("no service subscribes to this event type yet")

// ErrNotStored is returned (wrapped) by Publish when a service subscribes
// to the event but the bus could not store it, or cannot say that it did:
// the broker refused it (a nack), its connection broke and no new one came
// before ctx ended, or a queue of a subscriber was down (see the
// rabbitmq package). Unlike ErrNoSubscriber it passes: publish the event
// again later. A hive method that fails with it answers unavailable.
var ErrNotStored = errors.New("the event bus could not store the event just now; try again")

// Match reports whether an event type matches a subscription pattern, with
// the rules of a RabbitMQ topic exchange: "*" matches one word, "#" matches
// zero or more words.
func Match(pattern, eventType string) bool {
	return match(strings.Split(pattern, "."), strings.Split(eventType, "."))
}

func match(pattern, words []string) bool {
	for len(pattern) > 0 {
		switch p := pattern[0]; p {
		case "#":
			for i := 0; i <= len(words); i++ {
				if match(pattern[1:], words[i:]) {
					return true
				}
			}
			return false
		default:
			if len(words) == 0 || (p != "*" && p != words[0]) {
				return false
			}
		}
		pattern, words = pattern[1:], words[1:]
	}
	return len(words) == 0
}

// Permanent marks err as a failure that no retry can cure, such as a body
// that is not valid JSON or an order for a dish that does not exist. A
// handler that returns it sends its event to the dead-letter queue at once,
// instead of trying again first.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err, or an error it wraps, came from
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

// Backlog is how much work waits in a subscription's shared queue, as the
// broker counts it: the events no instance has taken yet, how many
// instances are reading the queue, and the dead letters that wait for a
// person. Events that an instance has taken and not yet acked are not in
// Ready.
type Backlog struct {
	Ready     int // events waiting for an instance
	Consumers int // instances reading the queue now
	Dead      int // dead letters in the subscription's dead-letter queue
}

// A BacklogReader reads the backlog of a subscription's queue. It is what
// `hive node` scales a service by; anything that shows the hive's work,
// such as a live picture of it, reads the queues through it too.
// rabbitmq.Bus is one.
type BacklogReader interface {
	// Backlog returns the backlog of the queue of s. It fails if the
	// queue does not exist yet: no instance of s.Service has started.
	Backlog(ctx context.Context, s Subscription) (Backlog, error)
}

// MaxDelay is the longest delay that Bus.PublishAfter accepts: 2^17 - 1
// seconds, about 36 hours. The delay tiers of PROTOCOL.md add up to it. An
// event meant for next week belongs in a database until its week comes.
const MaxDelay = (1<<17 - 1) * time.Second
