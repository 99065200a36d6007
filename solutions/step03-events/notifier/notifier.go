package main

import (
	"context"
	// BEGIN SOLUTION
	"fmt"
	// END SOLUTION
	"slices"
	"sync"

	"github.com/hive-workshop/microservices-go/hive"
)

// OrderEvent holds the one field of the order events that the notifier
// reads: every order event ("order.placed", "order.cooked", ...) has an
// order_id. JSON fields that the struct does not declare are skipped.
type OrderEvent struct {
	OrderID string `json:"order_id"`
}

// Notification is a message the notifier sent to the customer. (A real one
// would send a text message or an e-mail; ours only keeps a list.)
type Notification struct {
	OrderID string `json:"order_id"`
	Event   string `json:"event"` // the type of the event it is about
	Text    string `json:"text"`
}

// SentRequest is what notifier.sent takes: nothing, {}.
type SentRequest struct{}

// SentReply is what notifier.sent answers: every notification sent, oldest
// first.
type SentReply struct {
	Notifications []Notification `json:"notifications"`
}

// Notifier tells customers how their orders are doing.
type Notifier struct {
	svc *hive.Service // for its logger

	mu   sync.Mutex // guards sent: hive runs several handlers at once
	sent []Notification
}

// New returns a notifier service, ready for env.Run (in main) or for a
// test to start.
func New() *hive.Service {
	svc := hive.New("notifier")
	// An empty list, not nil, so that notifier.sent answers [] rather
	// than null before the first notification.
	n := &Notifier{svc: svc, sent: []Notification{}}

	// TODO(step03) Task 5: subscribe n.notify to every order event, with the wildcard pattern "order.*".
	// BEGIN SOLUTION
	// "*" stands for one word, so "order.*" matches "order.placed" and
	// "order.cooked", and any order event that comes later. The notifier
	// has a queue of its own, so it gets every event, whatever other
	// services listen too: fan-out.
	hive.On(svc, "order.*", n.notify)
	// END SOLUTION

	hive.Handle(svc, "sent", n.listSent)
	return svc
}

// notify handles every order event: it tells the customer what happened.
func (n *Notifier) notify(ctx context.Context, e hive.Event[OrderEvent]) error {
	// TODO(step03) Task 5: send "order <id> placed" for an "order.placed" event and "order <id> is ready" for an "order.cooked" one (use e.Type and n.send); ignore other types.
	// BEGIN SOLUTION
	switch e.Type {
	case "order.placed":
		n.send(ctx, e, fmt.Sprintf("order %s placed", e.Body.OrderID))
	case "order.cooked":
		n.send(ctx, e, fmt.Sprintf("order %s is ready", e.Body.OrderID))
	default:
		// A wildcard also brings event types that are newer than this
		// code, such as "order.delivered" one day. Returning nil
		// acknowledges them: an error would only send them round the
		// retries into the dead-letter queue, for nothing.
		n.svc.Logger().DebugContext(ctx, "no notification for this event", "event", e.Type)
	}
	// END SOLUTION
	return nil
}

// send "sends" a notification about event e: it logs it and adds it to the
// list that notifier.sent answers with.
func (n *Notifier) send(ctx context.Context, e hive.Event[OrderEvent], text string) {
	n.svc.Logger().InfoContext(ctx, "notification sent", "order_id", e.Body.OrderID, "text", text)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, Notification{OrderID: e.Body.OrderID, Event: e.Type, Text: text})
}

// listSent answers notifier.sent.
func (n *Notifier) listSent(ctx context.Context, _ SentRequest) (SentReply, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return SentReply{Notifications: slices.Clone(n.sent)}, nil
}
