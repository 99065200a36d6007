package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// order's tests do not start the real menu. They start a fake one, right
// here: a service called "menu" that answers menu.get for two dishes. So
// they test order alone, and they can make the menu slow when they need
// to. All that order knows of menu is the JSON, and the fake speaks it.

// fakeMenu answers menu.get for dishes 3 and 5, after delay, and notes what
// each call brought with it.
type fakeMenu struct {
	delay time.Duration // how long each answer takes; the call's deadline may end it sooner
	down  atomic.Bool   // when set, every call fails as on a menu that is down

	mu    sync.Mutex
	calls []menuCall
}

// menuCall is what one call of menu.get brought with it.
type menuCall struct {
	traceID  string
	timeLeft time.Duration // until the call's deadline, as it arrived
}

func (f *fakeMenu) get(ctx context.Context, req dishRequest) (dish, error) {
	deadline, _ := ctx.Deadline()
	f.mu.Lock()
	f.calls = append(f.calls, menuCall{traceID: hive.TraceID(ctx), timeLeft: time.Until(deadline)})
	f.mu.Unlock()

	if f.down.Load() {
		return dish{}, hive.Errorf(hive.Unavailable, "the menu is down for maintenance")
	}
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return dish{}, ctx.Err() // nobody waits for the answer any more
	}
	switch req.DishID {
	case 3:
		return dish{ID: 3, Name: "Margherita", PriceCents: 850}, nil
	case 5:
		return dish{ID: 5, Name: "Tiramisu", PriceCents: 600}, nil
	}
	return dish{}, hive.Errorf(hive.NotFound, "there is no dish %d", req.DishID)
}

// seen returns the calls the fake menu got so far.
func (f *fakeMenu) seen() []menuCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// startOrder starts order, and a fake menu whose answers take menuDelay,
// on a network of their own.
func startOrder(t *testing.T, menuDelay time.Duration) (*hivetest.Network, *fakeMenu) {
	t.Helper()
	n := hivetest.NewNetwork(t)
	fake := &fakeMenu{delay: menuDelay}
	menu := hive.New("menu")
	hive.Handle(menu, "get", fake.get)
	n.Start(menu)
	n.Start(New())
	return n, fake
}

// slowMenu is how long the slow fake menu takes to answer: much longer
// than order should wait for it.
const slowMenu = 2 * time.Second

func TestTask1_PlacesAnOrder(t *testing.T) {
	n, _ := startOrder(t, 0)

	req := PlaceRequest{Items: []Item{{DishID: 3, Quantity: 2}, {DishID: 5, Quantity: 1}}}
	var reply PlaceReply
	if err := n.Call(context.Background(), "order.place", req, &reply); err != nil {
		t.Fatalf("Task 1: order.place with 2 × dish 3 and 1 × dish 5 failed: %v", err)
	}
	want := []Line{
		{DishID: 3, Name: "Margherita", Quantity: 2, PriceCents: 850, SubtotalCents: 1700},
		{DishID: 5, Name: "Tiramisu", Quantity: 1, PriceCents: 600, SubtotalCents: 600},
	}
	if !slices.Equal(reply.Lines, want) || reply.TotalCents != 2300 {
		t.Fatalf("Task 1: order.place with 2 × dish 3 and 1 × dish 5 answered\n  lines %s, total_cents %d\nwant\n  lines %s, total_cents 2300\n"+
			"In place, look up each item's dish with o.dish (and make o.dish call menu.get), then add one Line per item, and add up the total.",
			linesString(reply.Lines), reply.TotalCents, linesString(want))
	}
}

func TestTask1_RefusesBadOrders(t *testing.T) {
	n, _ := startOrder(t, 0)

	tests := []struct {
		name string
		req  PlaceRequest
	}{
		{"an order without items", PlaceRequest{}},
		{"a quantity of 0", PlaceRequest{Items: []Item{{DishID: 3, Quantity: 0}}}},
		{"a quantity of -1", PlaceRequest{Items: []Item{{DishID: 5, Quantity: 1}, {DishID: 3, Quantity: -1}}}},
	}
	for _, tt := range tests {
		var reply PlaceReply
		err := n.Call(context.Background(), "order.place", tt.req, &reply)
		if !errors.Is(err, hive.ErrBadRequest) {
			t.Errorf("Task 1: order.place with %s must fail with hive.BadRequest: the caller made a mistake; got %v.\nIn place, check the items before anything else.", tt.name, errOrNil(err))
		}
	}
}

func TestTask2_UnknownDishIsTheCallersMistake(t *testing.T) {
	n, _ := startOrder(t, 0)

	var reply PlaceReply
	err := n.Call(context.Background(), "order.place", PlaceRequest{Items: []Item{{DishID: 42, Quantity: 1}}}, &reply)
	if !errors.Is(err, hive.ErrBadRequest) || !strings.Contains(err.Error(), "42") {
		t.Fatalf("Task 2: order.place with dish 42, which is not on the menu, must fail with hive.BadRequest and a message that names dish 42; got %v.\n"+
			"The caller asked for a dish that does not exist: their mistake. In dish, recognize menu's NotFound (errors.Is and hive.ErrNotFound tell) and answer with a hive.BadRequest error of your own.", errOrNil(err))
	}
}

func TestTask2_MenuDownIsUnavailable(t *testing.T) {
	n := hivetest.NewNetwork(t)
	n.Start(New())
	// The registry lists a menu instance at an address where nothing
	// listens: as if menu had crashed.
	gone := deadAddress(t)
	if err := n.Registry.Register(context.Background(), registry.Instance{ID: "menu-gone", Service: "menu", Endpoint: gone}); err != nil {
		t.Fatal(err)
	}

	var reply PlaceReply
	err := n.Call(context.Background(), "order.place", PlaceRequest{Items: []Item{{DishID: 3, Quantity: 1}}}, &reply)
	if !errors.Is(err, hive.ErrUnavailable) {
		t.Fatalf("Task 2: when menu is down, order.place must fail with hive.Unavailable: nothing was ordered, and a later try may work; got %v.", errOrNil(err))
	}
	if strings.Contains(err.Error(), gone) {
		t.Fatalf("Task 2: when menu is down, order.place passes on the error about menu's connection:\n  %v\n"+
			"order's caller does not know menu, and cannot use its address. Return a hive.Unavailable error in order's own words (hive.Errorf), and log menu's error with o.svc.Logger().WarnContext for whoever investigates.", err)
	}
}

func TestTask3_SlowMenuMeansAQuickUnavailable(t *testing.T) {
	n, menu := startOrder(t, slowMenu)

	// The caller waits 5 seconds at most; order must not take them all.
	ctx, cancel := context.WithTimeout(hive.WithTraceID(context.Background(), "trace-task3"), 5*time.Second)
	defer cancel()
	start := time.Now()
	var reply PlaceReply
	err := n.Call(ctx, "order.place", PlaceRequest{Items: []Item{{DishID: 3, Quantity: 1}}}, &reply)
	took := time.Since(start)

	calls := menu.seen()
	if len(calls) == 0 {
		t.Fatalf("Task 3: order.place did not call menu.get (got %v). Finish Task 1 first.", errOrNil(err))
	}
	if got := calls[0].timeLeft; got > menuTimeout {
		t.Fatalf("Task 3: menu.get got %v to answer; it must get menuTimeout (%v) at most.\n"+
			"In dish, make a context with a deadline of its own (the context package has a function for it), and call menu.get with that context.", got.Round(time.Millisecond), menuTimeout)
	}
	if got := calls[0].traceID; got != "trace-task3" {
		t.Errorf("Task 3: menu.get got the trace id %q, but the caller's is \"trace-task3\".\n"+
			"Make the lookup's context from the ctx that dish got, not from context.Background(): the trace id travels inside it.", got)
	}
	if took >= time.Second {
		t.Errorf("Task 3: with a slow menu, order.place took %v; it must give up after menuTimeout (%v).", took.Round(time.Millisecond), menuTimeout)
	}
	switch {
	case errors.Is(err, hive.ErrTimeout):
		t.Errorf("Task 3: with a slow menu, order.place must fail with hive.Unavailable; got %v.\n"+
			"That is menu's timeout, passed on to order's caller. Translate it in dish, as in Task 2.", err)
	case !errors.Is(err, hive.ErrUnavailable):
		t.Errorf("Task 3: with a slow menu, order.place must fail with hive.Unavailable; got %v.", errOrNil(err))
	}
}

func TestTask3_CallersShorterDeadlineStillWins(t *testing.T) {
	n, menu := startOrder(t, slowMenu)

	// This caller waits only 150ms: less than menuTimeout.
	const callerTimeout = 150 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), callerTimeout)
	defer cancel()
	var reply PlaceReply
	err := n.Call(ctx, "order.place", PlaceRequest{Items: []Item{{DishID: 3, Quantity: 1}}}, &reply)

	calls := menu.seen()
	if len(calls) == 0 {
		t.Fatalf("Task 3: order.place did not call menu.get (got %v). Finish Task 1 first.", errOrNil(err))
	}
	if got := calls[0].timeLeft; got > callerTimeout {
		t.Fatalf("Task 3: the caller of order.place waits %v, but menu.get got %v to answer: an answer nobody waits for.\n"+
			"Make the lookup's context from the ctx that dish got, not from a fresh one: a context made from another keeps the earlier of the two deadlines.", callerTimeout, got.Round(time.Millisecond))
	}
}

func TestTask4_LogsEachOrderWithTheTraceID(t *testing.T) {
	n, _ := startOrder(t, 0)

	ctx := hive.WithTraceID(context.Background(), "trace-task4")
	var reply PlaceReply
	if err := n.Call(ctx, "order.place", PlaceRequest{Items: []Item{{DishID: 3, Quantity: 2}}}, &reply); err != nil {
		t.Fatalf("Task 4: order.place failed: %v. Finish Task 1 first.", err)
	}

	var placed []string
	for line := range strings.Lines(n.Logs.String()) {
		if strings.Contains(line, `msg="order placed"`) {
			placed = append(placed, strings.TrimSpace(line))
		}
	}
	if len(placed) != 1 {
		t.Fatalf("Task 4: after one order, order logged %d lines with the message \"order placed\"; want exactly 1.\n"+
			"In place, log it with o.svc.Logger().InfoContext(ctx, \"order placed\", ...).", len(placed))
	}
	for _, want := range []string{"trace_id=trace-task4", "order_id=" + reply.OrderID, "total_cents=1700"} {
		if !strings.Contains(placed[0], want) {
			t.Errorf("Task 4: the log line\n  %s\nhas no %s.\n"+
				"Log with InfoContext and pass it ctx (that is where the trace id comes from), then \"order_id\", reply.OrderID, \"total_cents\", reply.TotalCents.", placed[0], want)
		}
	}
}

// deadAddress returns an address where nothing listens.
func deadAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func linesString(lines []Line) string {
	if len(lines) == 0 {
		return "[] (none)"
	}
	var parts []string
	for _, l := range lines {
		parts = append(parts, fmt.Sprintf("{%d %s ×%d at %d = %d}", l.DishID, l.Name, l.Quantity, l.PriceCents, l.SubtotalCents))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// errOrNil makes "no error" read as such in a failure message, and an
// incident too: what it means, and where its details are.
func errOrNil(err error) any {
	switch {
	case err == nil:
		return "no error"
	case errors.Is(err, hive.ErrInternal) && strings.Contains(err.Error(), "incident"):
		return fmt.Sprintf("%v\n(An incident: order returned a plain Go error, from errors.New or fmt.Errorf, and hive keeps its text from the caller. "+
			"Find the incident id in the log lines below to read it; return a hive.Errorf error, with the code that fits.)", err)
	}
	return err
}

// Going further: when menu is down, order still takes orders of the
// dishes it has seen, at the price it saw. make further runs it.
func TestFurther_KnownDishesOutliveAMenuOutage(t *testing.T) {
	n, menu := startOrder(t, 0)
	place := func(dishID int) (PlaceReply, error) {
		var reply PlaceReply
		err := n.Call(context.Background(), "order.place", PlaceRequest{Items: []Item{{DishID: dishID, Quantity: 1}}}, &reply)
		return reply, err
	}

	// Two orders at once, as calls come: order sees dishes 3 and 5.
	var wg sync.WaitGroup
	for _, id := range []int{3, 5} {
		wg.Go(func() {
			if reply, err := place(id); err != nil || len(reply.Lines) != 1 {
				t.Errorf("Going further: with the menu up, order.place of dish %d answered %+v, %v. Do tasks 1 to 3 first.", id, reply, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	menu.down.Store(true)
	reply, err := place(3)
	if err != nil {
		t.Fatalf("Going further: the menu is down, and order.place of dish 3, which order saw a moment ago, failed: %v.\n"+
			"In dish (order/order.go), keep each dish that menu answers in o.lastSeen; when menu fails, answer with the dish as last seen, and log that you did.", err)
	}
	if want := []Line{{DishID: 3, Name: "Margherita", Quantity: 1, PriceCents: 850, SubtotalCents: 850}}; !slices.Equal(reply.Lines, want) {
		t.Fatalf("Going further: with the menu down, order.place of dish 3 answered the lines %+v; want %+v, as menu said before.", reply.Lines, want)
	}
	if _, err := place(7); !errors.Is(err, hive.ErrUnavailable) {
		t.Fatalf("Going further: with the menu down, order.place of dish 7, which order never saw, must still fail with hive.Unavailable; got %v.", errOrNil(err))
	}
}
