// Package eventstest is the behavioural test suite that every
// implementation of events.Bus must pass, so that they all behave alike:
//
//	func TestBus(t *testing.T) {
//		eventstest.Run(t, func(t *testing.T) func() eventstest.Bus { ... })
//	}
package eventstest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// The options the suite expects every bus to be built with. Prefetch must
// be small: one test relies on an instance taking no more than Prefetch
// events at once.
const (
	MaxAttempts = 3
	RetryDelay  = 50 * time.Millisecond
	Prefetch    = 4
)

// Bus is what the suite tests: an events.Bus that also shows its dead
// letters, and replays and purges them.
type Bus interface {
	events.Bus
	events.DeadLetterKeeper
}

// A Backend prepares a fresh namespace for the test t and returns connect,
// which starts one more bus instance in it. The instances of one connect
// share their queues, as the processes of one hive do. The backend builds
// them with MaxAttempts, RetryDelay and Prefetch, and closes them when t
// ends.
type Backend func(t *testing.T) (connect func() Bus)

// Run runs the suite, each test in a parallel subtest with a backend of its
// own.
func Run(t *testing.T, backend Backend) {
	tests := []struct {
		name string
		test func(t *testing.T, connect func() Bus)
	}{
		{"EveryServiceGetsEveryEvent", testFanOut},
		{"InstancesShareTheWork", testCompetingConsumers},
		{"BroadcastReachesEveryInstance", testBroadcast},
		{"Wildcards", testWildcards},
		{"FailingHandlerEndsInDeadLetters", func(t *testing.T, connect func() Bus) {
			testGivingUp(t, connect, func() error { return errors.New("out of stock") }, "out of stock")
		}},
		{"PanickingHandlerEndsInDeadLetters", func(t *testing.T, connect func() Bus) {
			testGivingUp(t, connect, func() error { panic("nil menu") }, "nil menu")
		}},
		{"DeadLettersAreReplayedAndPurged", testReplay},
		{"StopWaitsForHandlerInFlight", testStop},
		{"EventNobodySubscribesToIsRefused", testNoSubscriber},
		{"TapWatchesButDoesNotCount", testTap},
		{"BroadcastCountsWithNoInstanceRunning", testBroadcastMark},
		{"QueueKeepsEventsWhileNobodyConsumes", testKeptForLater},
		{"IncompleteSubscriptionIsRefused", testIncompleteSubscription},
		{"ClosedBusRefuses", testClosed},
		{"DelayedEventsComeOnTime", testDelayed},
		{"NoOrderWithoutInOrder", testNoOrder},
		{"InOrderKeepsTheQueuesOrder", testInOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, backend(t))
		})
	}
}

// Logger returns a logger that writes to t's output, which go test shows
// when t fails or runs with -v.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// timeout bounds every wait. It is long, because a wait ends as soon as
// what it waits for has happened.
const (
	timeout = 10 * time.Second
	tick    = 5 * time.Millisecond
)

func testFanOut(t *testing.T, connect func() Bus) {
	kitchen, notifier := newRecorder(), newRecorder()
	subscribe(t, connect(), events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}, kitchen.handle)
	subscribe(t, connect(), events.Subscription{Service: "notifier", Name: "orders", Pattern: "order.placed"}, notifier.handle)

	ids := publish(t, connect(), "order.placed", 10)
	requireExactlyOnce(t, "the kitchen service", ids, kitchen)
	requireExactlyOnce(t, "the notifier service", ids, notifier)
}

func testCompetingConsumers(t *testing.T, connect func() Bus) {
	// Every handler holds on to its event until both instances have had
	// one. An instance takes at most Prefetch events at once, so if it
	// holds them all, the rest must go to the other one.
	first, second := newRecorder(), newRecorder()
	bothBusy := make(chan struct{})
	var once sync.Once
	hold := func(r *recorder) events.Handler {
		return func(ctx context.Context, e events.Event) error {
			r.handle(ctx, e)
			if first.total() > 0 && second.total() > 0 {
				once.Do(func() { close(bothBusy) })
			}
			select {
			case <-bothBusy:
			case <-time.After(timeout): // the test fails below
			}
			return nil
		}
	}
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	subscribe(t, connect(), s, hold(first))
	subscribe(t, connect(), s, hold(second))

	ids := publish(t, connect(), "order.placed", 2*Prefetch+2)
	select {
	case <-bothBusy:
	case <-time.After(timeout):
		t.Fatalf("after %v, only one of the two instances has handled events (first %d, second %d): they do not share the queue",
			timeout, first.total(), second.total())
	}
	requireExactlyOnce(t, "the two kitchen instances together", ids, first, second)
}

func testBroadcast(t *testing.T, connect func() Bus) {
	one, two := newRecorder(), newRecorder()
	s := events.Subscription{Service: "menu", Name: "prices", Pattern: "price.changed", Broadcast: true}
	s.Instance = "menu-1"
	subscribe(t, connect(), s, one.handle)
	s.Instance = "menu-2"
	subscribe(t, connect(), s, two.handle)

	ids := publish(t, connect(), "price.changed", 5)
	requireExactlyOnce(t, "instance menu-1", ids, one)
	requireExactlyOnce(t, "instance menu-2", ids, two)
}

func testWildcards(t *testing.T, connect func() Bus) {
	star, orderHash, hash := newRecorder(), newRecorder(), newRecorder()
	bus := connect()
	subscribe(t, bus, events.Subscription{Service: "a", Name: "star", Pattern: "order.*"}, star.handle)
	subscribe(t, bus, events.Subscription{Service: "b", Name: "order-hash", Pattern: "order.#"}, orderHash.handle)
	subscribe(t, bus, events.Subscription{Service: "c", Name: "hash", Pattern: "#"}, hash.handle)

	placed := publish(t, bus, "order.placed", 1)
	added := publish(t, bus, "order.item.added", 1)
	paid := publish(t, bus, "payment.done", 1)
	requireExactlyOnce(t, `the subscriber to "#"`, slices.Concat(placed, added, paid), hash)
	requireExactlyOnce(t, `the subscriber to "order.#"`, slices.Concat(placed, added), orderHash)
	requireExactlyOnce(t, `the subscriber to "order.*"`, placed, star)
}

// testGivingUp checks that an event whose handler keeps failing (by
// calling fail) is tried MaxAttempts times, RetryDelay apart, and then
// lands in the dead letters; and that other events keep flowing meanwhile.
func testGivingUp(t *testing.T, connect func() Bus, fail func() error, reason string) {
	var (
		mu       sync.Mutex
		attempts []time.Time
	)
	attemptCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts)
	}
	good := newRecorder()
	goodDone := make(chan struct{})
	handler := func(ctx context.Context, e events.Event) error {
		if e.Type == "order.placed" {
			return good.handle(ctx, e)
		}
		mu.Lock()
		attempts = append(attempts, time.Now())
		n := len(attempts)
		mu.Unlock()
		if n == 2 {
			// Hold the second attempt until the good events got through:
			// they must not wait for the failing one.
			select {
			case <-goodDone:
			case <-time.After(timeout): // the test fails below
			}
		}
		return fail()
	}
	bus := connect()
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.*"}
	subscribe(t, bus, s, handler)

	bad := publish(t, bus, "order.rejected", 1)[0]
	require.Eventually(t, func() bool { return attemptCount() > 0 }, timeout, tick, "the handler never got the event that fails")
	requireExactlyOnce(t, "the handler, while another event was failing,", publish(t, bus, "order.placed", 5), good)
	close(goodDone)

	var letters []events.DeadLetter
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var err error
		letters, err = bus.DeadLetters(t.Context(), s)
		require.NoError(c, err, "reading the dead letters failed")
		require.Len(c, letters, 1, "the failing event is not (alone) in the dead letters")
	}, timeout, tick)
	assert.Equal(t, bad, letters[0].Event.ID, "the dead letter is not the event that failed")
	assert.Contains(t, letters[0].Reason, reason, "the dead letter's reason does not give the handler's error")

	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, attempts, MaxAttempts, "the failing handler was called %d times, want MaxAttempts = %d", len(attempts), MaxAttempts)
	for i := 1; i < len(attempts); i++ {
		gap := attempts[i].Sub(attempts[i-1])
		assert.GreaterOrEqual(t, gap, RetryDelay, "attempt %d came %v after the one before, sooner than RetryDelay", i+1, gap)
	}
}

// testReplay sends three events to the dead letters, purges one, and
// replays the others once the handler works again: they come back with
// their trace id, as new, with all their tries before them (the handler
// fails MaxAttempts-1 more times first).
func testReplay(t *testing.T, connect func() Bus) {
	var (
		mu      sync.Mutex
		fixed   bool
		calls   = make(map[string]int)    // since the fix, by event ID
		handled = make(map[string]string) // trace id, by event ID
	)
	bus := connect()
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	subscribe(t, bus, s, func(_ context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if !fixed {
			return errors.New("the oven is cold")
		}
		if calls[e.ID]++; calls[e.ID] < MaxAttempts {
			return errors.New("still warming up")
		}
		handled[e.ID] = e.TraceID
		return nil
	})
	var ids []string
	for range 3 {
		e := newEvent("order.placed")
		e.TraceID = "trace-" + e.ID
		require.NoError(t, bus.Publish(t.Context(), e), "publishing failed")
		ids = append(ids, e.ID)
	}
	dead := func() []string {
		letters, err := bus.DeadLetters(t.Context(), s)
		require.NoError(t, err, "reading the dead letters failed")
		var got []string
		for _, l := range letters {
			got = append(got, l.Event.ID)
		}
		slices.Sort(got)
		return got
	}
	require.Eventually(t, func() bool { return len(dead()) == 3 }, timeout, tick, "the three events never all reached the dead letters")

	n, err := bus.Purge(t.Context(), s, ids[0])
	require.NoError(t, err, "purging one dead letter failed")
	assert.Equal(t, 1, n, "Purge of one ID removed %d dead letters", n)
	rest := slices.Sorted(slices.Values(ids[1:]))
	assert.Equal(t, rest, dead(), "after purging %s", ids[0])

	mu.Lock()
	fixed = true
	mu.Unlock()
	n, err = bus.Replay(t.Context(), s)
	require.NoError(t, err, "replaying the dead letters failed")
	assert.Equal(t, 2, n, "Replay of all moved %d dead letters, want the 2 there", n)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 2
	}, timeout, tick, "the replayed events were not handled: were they given up on at once, their count of tries not started again?")
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids[1:] {
		assert.Equal(t, "trace-"+id, handled[id], "a replayed event lost its trace id")
	}
	assert.Empty(t, dead(), "dead letters left after replaying them all")
}

func testStop(t *testing.T, connect func() Bus) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	slow := func(ctx context.Context, e events.Event) error {
		select {
		case started <- struct{}{}:
		default: // a second delivery; the test fails below
		}
		select {
		case <-release:
		case <-time.After(timeout): // the test fails below
		}
		return nil
	}
	bus := connect()
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop := subscribe(t, bus, s, slow)
	first := publish(t, bus, "order.placed", 1)[0]
	select {
	case <-started:
	case <-time.After(timeout):
		t.Fatal("the handler never got the event")
	}

	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	// Not seeing something happen takes a while: give stop time to return
	// too early.
	select {
	case <-stopped:
		t.Fatal("stop returned while a handler was still running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(timeout):
		t.Fatal("stop did not return after the handler had")
	}

	// stop settled the event: a new subscriber to the queue gets the next
	// event, and not the first one again.
	later := newRecorder()
	stopLater := subscribe(t, bus, s, later.handle)
	next := publish(t, bus, "order.placed", 1)
	requireExactlyOnce(t, "the subscriber after stop", next, later)
	stopLater() // waits for every handler, so the first event would have been counted
	assert.Zero(t, later.count(first), "the event handled before stop came again: stop did not settle it")
}

func testNoSubscriber(t *testing.T, connect func() Bus) {
	bus := connect()
	err := bus.Publish(t.Context(), newEvent("order.placed"))
	require.ErrorIs(t, err, events.ErrNoSubscriber, "publishing before anybody subscribed should fail with events.ErrNoSubscriber")
	assert.Contains(t, err.Error(), "order.placed", "the error does not name the event type")

	// A subscription to other events does not take it either.
	subscribe(t, bus, events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.cooked"}, newRecorder().handle)
	err = bus.Publish(t.Context(), newEvent("order.placed"))
	require.ErrorIs(t, err, events.ErrNoSubscriber, "publishing an event that only others' patterns match should fail with events.ErrNoSubscriber")
}

// testTap checks that a tap, such as `hive subscribe`, sees the events
// that services take, but does not make an event that no service takes
// look delivered: with a tap running and no kitchen yet, an order must
// not be accepted and then lost (issue 21, N1).
func testTap(t *testing.T, connect func() Bus) {
	tap := newRecorder()
	subscribe(t, connect(), events.Subscription{Service: "hive-cli", Name: "tail", Pattern: "order.*", Broadcast: true, Instance: "hive-cli-1", Tap: true}, tap.handle)

	bus := connect()
	refused := newEvent("order.placed")
	err := bus.Publish(t.Context(), refused)
	require.ErrorIs(t, err, events.ErrNoSubscriber, "with only a tap subscribed, Publish must fail with events.ErrNoSubscriber: nobody will do the work")

	kitchen := newRecorder()
	subscribe(t, connect(), events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}, kitchen.handle)
	ids := publish(t, bus, "order.placed", 3)
	requireExactlyOnce(t, "the kitchen", ids, kitchen)
	// The tap sees what was published, taken or not.
	requireExactlyOnce(t, "the tap", append(ids, refused.ID), tap)
}

// testBroadcastMark checks that a service's broadcast subscription counts
// as delivery even while none of its instances runs: the service said
// that it wants the news, and the instances that run get it. (Those that
// do not run miss it: a broadcast is news for the present.)
func testBroadcastMark(t *testing.T, connect func() Bus) {
	s := events.Subscription{Service: "kitchen", Name: "sold-out", Pattern: "dish.sold_out", Broadcast: true, Instance: "kitchen-1"}
	stop := subscribe(t, connect(), s, newRecorder().handle)
	stop()
	publish(t, connect(), "dish.sold_out", 1)

	s.Instance = "kitchen-2"
	running := newRecorder()
	subscribe(t, connect(), s, running.handle)
	ids := publish(t, connect(), "dish.sold_out", 2)
	requireExactlyOnce(t, "the kitchen instance that runs", ids, running)
}

// testKeptForLater checks that a subscription's queue keeps taking its
// events after the subscription stopped, and hands them to the next one:
// ErrNoSubscriber is only for events that no service ever subscribed to.
func testKeptForLater(t *testing.T, connect func() Bus) {
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop := subscribe(t, connect(), s, newRecorder().handle)
	stop()

	ids := publish(t, connect(), "order.placed", 3)
	later := newRecorder()
	subscribe(t, connect(), s, later.handle)
	requireExactlyOnce(t, "the subscriber that came after the events", ids, later)
}

func testIncompleteSubscription(t *testing.T, connect func() Bus) {
	bus := connect()
	nop := func(context.Context, events.Event) error { return nil }
	for _, s := range []events.Subscription{
		{Name: "orders", Pattern: "order.placed"},
		{Service: "kitchen", Pattern: "order.placed"},
		{Service: "kitchen", Name: "orders"},
		{Service: "kitchen", Name: "orders", Pattern: "order.placed", Broadcast: true},
		{Service: "hive-cli", Name: "tail", Pattern: "#", Tap: true},
	} {
		stop, err := bus.Subscribe(t.Context(), s, nop)
		if !assert.Error(t, err, "Subscribe accepted the incomplete subscription %+v", s) {
			stop()
		}
	}
}

func testClosed(t *testing.T, connect func() Bus) {
	bus := connect()
	require.NoError(t, bus.Close(), "Close failed")
	err := bus.Publish(t.Context(), newEvent("order.placed"))
	assert.ErrorIs(t, err, events.ErrClosed, "Publish after Close should fail with events.ErrClosed")
	_, err = bus.Subscribe(t.Context(), events.Subscription{Service: "kitchen", Name: "orders", Pattern: "#"},
		func(context.Context, events.Event) error { return nil })
	assert.ErrorIs(t, err, events.ErrClosed, "Subscribe after Close should fail with events.ErrClosed")
	assert.NoError(t, bus.Close(), "a second Close should do nothing")
}

// Late is how much later than its delay, rounded up to whole seconds, a
// delayed event may reach its handler: the hops from tier to tier and on
// to the work queue, on a busy machine. (A delay of 2.5 s is rounded to
// 3 s, so such an event comes between 2.5 s and 3 s + Late after it was
// published.)
const Late = time.Second

// testDelayed publishes events with delays of 0.3 s, 2.5 s and 4.2 s (the
// second waits in two tiers, 2 s and 1 s; the third in 4 s and 1 s, passing
// 2 s by) and one with none: each comes once, never before its delay, and
// no later than its rounded delay and Late.
func testDelayed(t *testing.T, connect func() Bus) {
	bus := connect()
	var mu sync.Mutex
	came := make(map[string][]time.Time)
	subscribe(t, bus, events.Subscription{Service: "notifier", Name: "late", Pattern: "order.late"}, func(_ context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		came[e.ID] = append(came[e.ID], time.Now())
		return nil
	})

	type sent struct {
		delay, rounded time.Duration
		before, after  time.Time // just before PublishAfter, and when it returned
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	published := make(map[string]sent)
	for _, d := range []struct{ delay, rounded time.Duration }{
		{300 * time.Millisecond, time.Second},
		{2500 * time.Millisecond, 3 * time.Second},
		{4200 * time.Millisecond, 5 * time.Second},
		{0, 0},
	} {
		e := newEvent("order.late")
		before := time.Now()
		require.NoError(t, bus.PublishAfter(ctx, d.delay, e), "publishing an event with a delay of %v failed", d.delay)
		published[e.ID] = sent{d.delay, d.rounded, before, time.Now()}
	}

	require.NoError(t, hivetest.Eventually(timeout+5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(came) < len(published) {
			return fmt.Errorf("%d of %d delayed events came", len(came), len(published))
		}
		return nil
	}))
	mu.Lock()
	defer mu.Unlock()
	for id, p := range published {
		require.Len(t, came[id], 1, "the event with a delay of %v came %d times, want once", p.delay, len(came[id]))
		at := came[id][0]
		waited := at.Sub(p.before)
		t.Logf("delay %v: came after %v (%v after the rounded delay)", p.delay, waited.Round(time.Millisecond), at.Sub(p.after.Add(p.rounded)).Round(time.Millisecond))
		assert.GreaterOrEqual(t, waited, p.delay, "the event with a delay of %v came %v after it was published: too early", p.delay, waited)
		if late := at.Sub(p.after.Add(p.rounded)); late > Late {
			t.Errorf("the event with a delay of %v (rounded to %v) came %v after that: later than eventstest.Late (%v)", p.delay, p.rounded, late, Late)
		}
	}
}

// testNoOrder shows what InOrder is for: without it, an instance handles
// up to Prefetch events at once, so the event behind a slow one is handled
// first. The handler of the first event waits until the second has been
// handled; it would wait for ever if events were handled in order.
func testNoOrder(t *testing.T, connect func() Bus) {
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	ids := []string{newEvent("order.placed").ID, newEvent("order.placed").ID}
	secondDone := make(chan struct{})
	subscribe(t, connect(), s, func(ctx context.Context, e events.Event) error {
		switch e.ID {
		case ids[0]:
			select {
			case <-secondDone:
				return nil
			case <-time.After(timeout):
				return events.Permanent(errors.New("the second event was not handled while the first was"))
			}
		case ids[1]:
			close(secondDone)
		}
		return nil
	})
	publishIDs(t, connect(), "order.placed", ids)
	select {
	case <-secondDone:
	case <-time.After(timeout):
		t.Fatal("the second event was not handled while the first one's handler ran: was the subscription InOrder?")
	}
}

// testInOrder: two instances of a service read an InOrder subscription;
// ten events are handled one at a time, in the order they were published,
// though the first fails once (it is tried again in place, and the others
// wait for it).
func testInOrder(t *testing.T, connect func() Bus) {
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed", InOrder: true}
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = newEvent("order.placed").ID
	}
	var (
		mu      sync.Mutex
		handled []string
		failed  bool
		busy    int
		overlap bool
	)
	handler := func(ctx context.Context, e events.Event) error {
		mu.Lock()
		busy++
		overlap = overlap || busy > 1
		handled = append(handled, e.ID)
		fail := e.ID == ids[0] && !failed
		failed = failed || fail
		mu.Unlock()
		defer func() {
			mu.Lock()
			busy--
			mu.Unlock()
		}()
		if fail {
			return errors.New("the oven is not hot yet")
		}
		return nil
	}
	subscribe(t, connect(), s, handler)
	subscribe(t, connect(), s, handler)
	publishIDs(t, connect(), "order.placed", ids)
	want := append([]string{ids[0]}, ids...) // the first twice: it failed once
	require.NoError(t, hivetest.Eventually(timeout, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(handled) < len(want) {
			return fmt.Errorf("%d of %d handler calls", len(handled), len(want))
		}
		return nil
	}))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, want, handled, "the events were not handled in the order they were published")
	assert.False(t, overlap, "two handler calls ran at once")
}

// subscribe subscribes h to s on bus, and stops it when t ends.
func subscribe(t *testing.T, bus events.Bus, s events.Subscription, h events.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	stop, err := bus.Subscribe(ctx, s, h)
	require.NoError(t, err, "subscribing %s to %q failed", s.Service, s.Pattern)
	t.Cleanup(stop)
	return stop
}

// publish publishes n new events of type eventType, and returns their IDs.
func publish(t *testing.T, bus events.Bus, eventType string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newEvent(eventType).ID
	}
	publishIDs(t, bus, eventType, ids)
	return ids
}

// publishIDs publishes events of type eventType with the given IDs, one
// after the other.
func publishIDs(t *testing.T, bus events.Bus, eventType string, ids []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	for _, id := range ids {
		e := newEvent(eventType)
		e.ID = id
		require.NoError(t, bus.Publish(ctx, e), "publishing a %s event failed", eventType)
	}
}

func newEvent(eventType string) events.Event {
	return events.Event{
		ID:     rand.Text(),
		Type:   eventType,
		Source: "eventstest",
		Time:   time.Now().UTC(),
		Body:   json.RawMessage(`{"dish":"pizza"}`),
	}
}

// requireExactlyOnce waits until the recorders together have seen every
// event in ids, and then checks that they saw each exactly once and
// nothing else. who names them in failure messages.
func requireExactlyOnce(t *testing.T, who string, ids []string, recorders ...*recorder) {
	t.Helper()
	count := func(id string) int {
		n := 0
		for _, r := range recorders {
			n += r.count(id)
		}
		return n
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var missing []string
		for _, id := range ids {
			if count(id) == 0 {
				missing = append(missing, id)
			}
		}
		assert.Empty(c, missing, "%s never got %d of the %d events", who, len(missing), len(ids))
	}, timeout, tick)

	for _, id := range ids {
		if n := count(id); n != 1 {
			t.Errorf("%s handled event %s %d times, want exactly once", who, id, n)
		}
	}
	for _, r := range recorders {
		for _, id := range r.ids() {
			if !slices.Contains(ids, id) {
				t.Errorf("%s got event %s, which was not meant for it", who, id)
			}
		}
	}
}

// A recorder counts the events its handler was given, by ID.
type recorder struct {
	mu   sync.Mutex
	seen map[string]int
}

func newRecorder() *recorder {
	return &recorder{seen: make(map[string]int)}
}

// handle is an events.Handler that records e.
func (r *recorder) handle(_ context.Context, e events.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[e.ID]++
	return nil
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[id]
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.seen))
}
