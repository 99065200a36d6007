package customer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
)

// fakeOrder plays order.place: it answers each call with the next error of
// its script (nil: success), and notes the idempotency key of every call.
type fakeOrder struct {
	mu     sync.Mutex
	script []error // the answers, in turn; when they run out, success
	keys   []string
}

func (f *fakeOrder) Call(ctx context.Context, method string, req, resp any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, req.(PlaceRequest).IdempotencyKey)
	if len(f.script) > 0 {
		err := f.script[0]
		f.script = f.script[1:]
		if err != nil {
			return err
		}
	}
	*resp.(*PlaceReply) = PlaceReply{OrderID: "ORDER7", TotalCents: 1700}
	return nil
}

// The errors hive's client gives, with the code that says what happened.
var (
	unavailable = &hive.Error{Code: hive.Unavailable, Message: "no instance of service order is running", Method: "order.place"}
	timeout     = &hive.Error{Code: hive.Timeout, Message: "no answer before the deadline", Method: "order.place"}
	badRequest  = &hive.Error{Code: hive.BadRequest, Message: "dish 42 is not on the menu", Method: "order.place"}
)

// newCustomer returns a customer that calls f, and does not really wait
// between attempts: it notes each wait in waits.
func newCustomer(f *fakeOrder, policy Policy, waits *[]time.Duration) *Customer {
	c := New(f, policy)
	c.sleep = func(ctx context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		return ctx.Err()
	}
	return c
}

func TestTask3_TimeoutAndUnavailableAreTriedAgainWithTheSameKey(t *testing.T) {
	f := &fakeOrder{script: []error{unavailable, timeout}}
	var waits []time.Duration
	c := newCustomer(f, DefaultPolicy(), &waits)

	res := c.Place(context.Background(), "lunch-42", []Item{{DishID: 3, Quantity: 2}})
	if res.Err != nil || res.Attempts != 3 {
		t.Fatalf("Task 3: order.place failed with Unavailable, then Timeout, then worked; the customer made %s and ended with %v. "+
			"Want 3 attempts and the order. In Place (customer/customer.go), call c.attempt again while Retryable(res.Err) says so.", attempts(res.Attempts), res.Err)
	}
	if res.Reply.OrderID != "ORDER7" {
		t.Errorf("Task 3: the third attempt answered order ORDER7, but the result says %q", res.Reply.OrderID)
	}
	if !slices.Equal(f.keys, []string{"lunch-42", "lunch-42", "lunch-42"}) {
		t.Errorf("Task 3: the attempts carried the keys %v; every attempt must send the same key, or a retry could order twice", f.keys)
	}
}

func TestTask3_OnlyTimeoutAndUnavailableAreWorthAnotherTry(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
		why  string
	}{
		{unavailable, true, "nothing was done, and another instance, or a moment later, may do better"},
		{timeout, true, "the order may or may not be placed; with the same key, asking again is safe"},
		{badRequest, false, "the request is wrong, and will be just as wrong the next time"},
		{&hive.Error{Code: hive.Conflict, Message: "the key was used for another order"}, false, "the request clashes with an order that exists"},
		{&hive.Error{Code: hive.Internal, Message: "nil pointer dereference"}, false, "a bug; trying again only makes more noise"},
		{errors.New("hive: call \"order\": write the method as service.method"), false, "a mistake in the program"},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Task 3: Retryable(%v) = %v, want %v: %s. (Use errors.Is(err, hive.ErrTimeout) and errors.Is(err, hive.ErrUnavailable).)", tc.err, got, tc.want, tc.why)
		}
	}

	// And Place follows Retryable: one attempt for a bad request.
	f := &fakeOrder{script: []error{badRequest}}
	var waits []time.Duration
	res := newCustomer(f, DefaultPolicy(), &waits).Place(context.Background(), "lunch-43", []Item{{DishID: 42, Quantity: 1}})
	if res.Attempts != 1 || !errors.Is(res.Err, hive.ErrBadRequest) {
		t.Errorf("Task 3: order.place said BadRequest, and the customer made %s, ending with %v; want 1 attempt and the BadRequest error", attempts(res.Attempts), res.Err)
	}
}

func TestTask3_TheWaitDoublesUpToALimit(t *testing.T) {
	f := &fakeOrder{script: slices.Repeat([]error{unavailable}, 100)} // it never works
	var waits []time.Duration
	policy := Policy{Attempts: 6, AttemptTimeout: time.Second, FirstBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
	res := newCustomer(f, policy, &waits).Place(context.Background(), "lunch-44", []Item{{DishID: 1, Quantity: 1}})

	if res.Attempts != 6 || !errors.Is(res.Err, hive.ErrUnavailable) {
		t.Fatalf("Task 3: order.place was always Unavailable; with Attempts: 6 the customer must try 6 times and then give up with the last error. It made %s and ended with %v.",
			attempts(res.Attempts), res.Err)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}
	if !slices.Equal(waits, want) {
		t.Errorf("Task 3: between the 6 attempts the customer waited %v; want %v: FirstBackoff, then twice as long each time, but never more than MaxBackoff (the builtin min helps). "+
			"Waiting longer and longer gives a sick service room to get well, instead of burying it under retries.", waits, want)
	}
}

func TestTask3_TheCustomerStopsWhenItsContextEnds(t *testing.T) {
	f := &fakeOrder{script: slices.Repeat([]error{unavailable}, 1000)}
	c := New(f, Policy{Attempts: 1000, AttemptTimeout: time.Second, FirstBackoff: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()

	start := time.Now()
	res := c.Place(ctx, "lunch-45", []Item{{DishID: 1, Quantity: 1}})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Task 3: the customer's context ended after 300ms, but Place returned only after %v. Wait with c.sleep(ctx, backoff), and stop when it returns an error.", took)
	}
	if res.Attempts < 2 || res.Err == nil {
		t.Fatalf("Task 3: in 300ms of Unavailable, with 20ms between attempts, the customer made %s and ended with %v; want several attempts, and the last error", attempts(res.Attempts), res.Err)
	}
}

// attempts says "1 attempt" or "3 attempts".
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// Going further: customers that failed together must not all come back
// together. make further runs it.
func TestFurther_JitterSpreadsTheWaits(t *testing.T) {
	policy := Policy{Attempts: 5, AttemptTimeout: time.Second, FirstBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond, Jitter: true}
	backoffs := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond}
	const customers = 20
	firstWaits := make(map[time.Duration]bool)
	for i := range customers {
		// Four failures, then success: four waits.
		f := &fakeOrder{script: []error{unavailable, unavailable, unavailable, unavailable}}
		var waits []time.Duration
		res := newCustomer(f, policy, &waits).Place(context.Background(), fmt.Sprintf("lunch-%d", i), []Item{{DishID: 1, Quantity: 1}})
		if res.Err != nil || len(waits) != len(backoffs) {
			t.Fatalf("Going further: a customer whose first 4 attempts failed (Unavailable) waited %v and ended with %v; want 4 waits and success. Do task 3 first.", waits, res.Err)
		}
		for n, w := range waits {
			if b := backoffs[n]; w < b/2 || w > b {
				t.Fatalf("Going further: with Jitter, the customer waited %v; want each wait between half the backoff and all of it, for the backoffs %v.\n"+
					"In jitter (customer/customer.go), return d/2 plus a random part of the other half; the backoff itself still doubles as in task 3.", waits, backoffs)
			}
		}
		firstWaits[waits[0]] = true
	}
	if len(firstWaits) == 1 {
		t.Fatalf("Going further: %d customers with Jitter all waited exactly %v before their second attempt: they all come back at the same moment, as a crowd.\n"+
			"In jitter (customer/customer.go), with c.policy.Jitter, return a random wait between d/2 and d (math/rand/v2's rand.N works on a time.Duration), and wait c.jitter(backoff) in Place's loop.", customers, slices.Collect(maps.Keys(firstWaits))[0])
	}
}
