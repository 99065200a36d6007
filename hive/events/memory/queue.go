package memory

import (
	"context"
	"sync"

	"github.com/hive-workshop/microservices-go/hive/events"
)

// A message is an event in a queue, with the number of the attempt it will
// be handed to a handler for.
type message struct {
	event   events.Event
	attempt int
}

// A queue keeps events in order until a consumer takes them. Its goroutine
// (run) owns the waiting events; everyone else talks to it through
// channels.
type queue struct {
	name      string
	broadcast bool
	bindings  map[string]bool // patterns of the subscriptions that read it; guarded by Bus.mu
	consumers int             // subscriptions reading it; guarded by Bus.mu

	in      chan message  // put sends events in
	back    chan message  // putBack sends events in, ahead of the others
	out     chan message  // consumers take events out
	turn    chan struct{} // an InOrder consumer holds it (a send) while it takes and handles an event
	deleted chan struct{} // closed by delete

	mu   sync.Mutex
	dead []events.DeadLetter
}

func newQueue(name string, broadcast bool) *queue {
	return &queue{
		name:      name,
		broadcast: broadcast,
		bindings:  make(map[string]bool),
		in:        make(chan message),
		back:      make(chan message),
		out:       make(chan message),
		turn:      make(chan struct{}, 1),
		deleted:   make(chan struct{}),
	}
}

// run keeps the waiting events and hands the oldest to whichever consumer
// asks first. Go serves goroutines blocked on a channel in turn, so the
// consumers of a queue take turns, like RabbitMQ's round robin.
func (q *queue) run() {
	var waiting []message
	for {
		// Sending on a nil channel blocks forever, which switches the
		// send case off while there is nothing to hand out.
		var out chan message
		var next message
		if len(waiting) > 0 {
			out, next = q.out, waiting[0]
		}
		select {
		case m := <-q.in:
			waiting = append(waiting, m)
		case m := <-q.back:
			waiting = append([]message{m}, waiting...)
		case out <- next:
			waiting[0] = message{} // so the garbage collector can have it
			waiting = waiting[1:]
		case <-q.deleted:
			return
		}
	}
}

// put adds m to the queue. Putting into a deleted queue drops m, as a
// broker drops messages routed to a queue that is gone.
func (q *queue) put(ctx context.Context, m message) error {
	select {
	case q.in <- m:
		return nil
	case <-q.deleted:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// putBack puts m at the head of the queue, where an event that was taken
// and not handled was: RabbitMQ requeues an unacked message in its place.
func (q *queue) putBack(m message) {
	select {
	case q.back <- m:
	case <-q.deleted:
	}
}

// matches reports whether the queue is bound with a pattern that matches
// eventType. The caller holds Bus.mu.
func (q *queue) matches(eventType string) bool {
	for pattern := range q.bindings {
		if events.Match(pattern, eventType) {
			return true
		}
	}
	return false
}

// delete stops the queue's goroutine. The caller holds Bus.mu, which makes
// sure it happens once.
func (q *queue) delete() {
	select {
	case <-q.deleted:
	default:
		close(q.deleted)
	}
}
