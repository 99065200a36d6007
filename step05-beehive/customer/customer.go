// Package customer places orders the way a careful customer does: when no
// answer comes, it asks again, with the same idempotency key, so that
// asking twice never orders twice.
//
// hive's client already tries another instance when a request never
// reached one (nobody listened at the address): that is always safe,
// because nothing was done. It cannot do more on its own: when a call
// times out, or the connection breaks halfway, the order may have been
// placed or not, and only the caller knows whether asking again is safe.
// This customer knows: order.place takes an idempotency key (task 2), so
// sending the same request again gives the same order. That makes it safe
// to retry after a timeout too (task 3).
package customer

import (
	"context"
	"time"
)

// Caller calls a method of a service. A *hive.Client is one; so is a
// *hive.Service, and the test's fake.
type Caller interface {
	Call(ctx context.Context, method string, req, resp any) error
}

// PlaceRequest, Item and PlaceReply are the JSON of order.place, as the
// customer sees it.
type (
	PlaceRequest struct {
		IdempotencyKey string `json:"idempotency_key"`
		Items          []Item `json:"items"`
	}
	Item struct {
		DishID   int `json:"dish_id"`
		Quantity int `json:"quantity"`
	}
	PlaceReply struct {
		OrderID    string `json:"order_id"`
		TotalCents int    `json:"total_cents"`
		PlacedBy   string `json:"placed_by"`
	}
)

// Policy says how hard the customer tries.
type Policy struct {
	Attempts       int           // attempts in all, the first one included
	AttemptTimeout time.Duration // how long one attempt may take
	FirstBackoff   time.Duration // the wait before the second attempt
	MaxBackoff     time.Duration // the longest wait between two attempts

	// Jitter waits a random time between half the backoff and all of it,
	// so that customers who failed at the same moment do not all come
	// back at the same moment too. (Going further.)
	Jitter bool
}

// DefaultPolicy tries 8 times, for up to about 15 seconds in all: long
// enough to ride out an instance that dies and the seconds until the
// registry forgets it.
func DefaultPolicy() Policy {
	return Policy{Attempts: 8, AttemptTimeout: 2 * time.Second, FirstBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}
}

// Customer places orders through a Caller. It is safe for concurrent use.
type Customer struct {
	caller Caller
	policy Policy
	sleep  func(ctx context.Context, d time.Duration) error // waits between attempts; tests replace it
}

// New returns a customer that calls order.place through caller.
func New(caller Caller, policy Policy) *Customer {
	return &Customer{caller: caller, policy: policy, sleep: sleep}
}

// Result is how placing one order went.
type Result struct {
	Key      string     // the idempotency key
	Reply    PlaceReply // order.place's answer, if Err is nil
	Attempts int        // how many times order.place was called
	Err      error      // the last attempt's error; nil if the order was accepted
}

// Place places an order of items under the idempotency key, trying again
// after a failure that another attempt may cure, as Policy allows.
func (c *Customer) Place(ctx context.Context, key string, items []Item) Result {
	req := PlaceRequest{IdempotencyKey: key, Items: items}
	res := Result{Key: key}

	// TODO(step05) Task 3: call c.attempt until it succeeds; after a failure, stop if Retryable says no, or after c.policy.Attempts attempts, or when c.sleep(ctx, backoff) fails (ctx ended); the backoff starts at FirstBackoff and doubles after each wait, up to MaxBackoff. Count res.Attempts and keep the last error in res.Err.
	res.Attempts = 1
	res.Err = c.attempt(ctx, req, &res.Reply)
	return res
}

// jitter returns how long to wait for a backoff of d: with Policy.Jitter,
// a random time between d/2 and d; without, d.
func (c *Customer) jitter(d time.Duration) time.Duration {
	// TODO(step05) Going further: with c.policy.Jitter, return a random wait between d/2 and d (and use jitter in Place's loop).
	return d
}

// Retryable reports whether an order.place that failed with err may be
// sent again with the same idempotency key, in the hope that it works.
func Retryable(err error) bool {
	// TODO(step05) Task 3: which errors are worth another try? For each of hive's error codes, ask what it says happened to the order (errors.Is and hive's Err... values tell them apart).
	return false
}

// attempt calls order.place once, with a deadline of its own.
func (c *Customer) attempt(ctx context.Context, req PlaceRequest, reply *PlaceReply) error {
	ctx, cancel := context.WithTimeout(ctx, c.policy.AttemptTimeout)
	defer cancel()
	return c.caller.Call(ctx, "order.place", req, reply)
}

// sleep waits for d, or until ctx ends, and then returns ctx's error.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
