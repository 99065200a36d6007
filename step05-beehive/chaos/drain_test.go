package chaos

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
)

// The JSON of order.place and of the "order.cooked" event, as this test
// sees them.
type (
	placeRequest struct {
		IdempotencyKey string `json:"idempotency_key"`
		Items          []item `json:"items"`
	}
	item struct {
		DishID   int `json:"dish_id"`
		Quantity int `json:"quantity"`
	}
	placeReply struct {
		OrderID string `json:"order_id"`
	}
	cooked struct {
		OrderID string `json:"order_id"`
		Kitchen string `json:"kitchen"`
	}
)

// Graceful drain: a kitchen that gets SIGTERM (Ctrl-C, `kill`, a deploy)
// while it cooks an order finishes that order before it goes. The order is
// cooked once, by that kitchen, and RabbitMQ never hands it to another.
// env.Run does this: it stops taking new work, waits for the work in
// flight, and acks it.
func TestAKitchenStoppedMidOrderFinishesIt(t *testing.T) {
	// The bees' output goes through a watcher too, so that the test sees
	// the moment the kitchen starts cooking.
	watcher := newLineWatcher()
	b, output := startBeehive(t, BeehiveOptions{
		Menus: 1, Orders: 1, Kitchens: 1,
		Env:    map[string]string{"KITCHEN_COOK_TIME": "300ms"},
		Output: watcher,
	})
	target := b.Target()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Listen to "order.cooked", and note the kitchen named by each piece of
	// news about each order.
	var mu sync.Mutex
	news := make(map[string][]string)
	stop, err := target.Bus.Subscribe(ctx, events.Subscription{Service: "drain-test", Name: "order.cooked", Pattern: "order.cooked"},
		func(ctx context.Context, e events.Event) error {
			var c cooked
			if err := json.Unmarshal(e.Body, &c); err != nil {
				return err
			}
			mu.Lock()
			news[c.OrderID] = append(news[c.OrderID], c.Kitchen)
			mu.Unlock()
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	heard := func(id string) []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(news[id])
	}

	client := hive.NewClient(target.Registry, hive.ClientOptions{})
	defer client.Close()
	place := func(key string) string {
		t.Helper()
		var reply placeReply
		req := placeRequest{IdempotencyKey: key, Items: []item{{DishID: 1, Quantity: 1}}}
		if err := client.Call(ctx, "order.place", req, &reply); err != nil {
			t.Fatalf("order.place: %v", err)
		}
		return reply.OrderID
	}

	id := place("drain-1")
	if !watcher.waitFor(ctx, "msg=cooking", "order_id="+id) {
		showOutput(t, output)
		t.Fatalf("the kitchen did not start cooking order %s", id)
	}
	kitchen, err := b.Terminate("kitchen.0")
	if err != nil {
		t.Fatal(err)
	}

	// It finishes the order, and says so.
	if !eventually(ctx, func() bool { return len(heard(id)) > 0 }) {
		showOutput(t, output)
		t.Fatalf("order %s was never announced as cooked after the kitchen got SIGTERM", id)
	}
	if by := heard(id)[0]; by != kitchen {
		t.Errorf("order %s was cooked by %s, not by %s, the kitchen that was cooking it when it got SIGTERM: it did not finish its work before it stopped", id, by, kitchen)
	}
	if !strings.Contains(output.String(), "stopping: draining requests and events") {
		t.Error("the kitchen did not say that it drains")
		showOutput(t, output)
	}

	// Had the kitchen handed the order back, the kitchen that the node
	// starts in its place would get it again, and announce it a second
	// time. Wait until that kitchen runs, and until an order placed after
	// has come through it: RabbitMQ keeps a queue in order, so by then a
	// handed-back event would have come through too.
	if err := b.waitFor(ctx, 20*time.Second, func(live int) bool { return live == 3 }); err != nil {
		t.Fatalf("the kitchen did not come back: %v", err)
	}
	marker := place("drain-2")
	if !eventually(ctx, func() bool { return len(heard(marker)) > 0 }) {
		showOutput(t, output)
		t.Fatalf("order %s, placed after the drain, was never announced", marker)
	}
	if n := len(heard(id)); n != 1 {
		t.Errorf("order %s was announced %d times (by %v); want once: the event went back to RabbitMQ and came again", id, n, heard(id))
	}
}

// eventually calls done every 20ms until it returns true, or until 10
// seconds have passed; it reports whether done returned true.
func eventually(ctx context.Context, done func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !done() {
		if time.Now().After(deadline) || wait(ctx, 20*time.Millisecond) != nil {
			return false
		}
	}
	return true
}

// lineWatcher is an io.Writer that watches what is written to it for a
// line with certain words.
type lineWatcher struct {
	mu      sync.Mutex
	written strings.Builder
	added   chan struct{} // gets a token when something is written
}

func newLineWatcher() *lineWatcher { return &lineWatcher{added: make(chan struct{}, 1)} }

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.written.Write(p)
	w.mu.Unlock()
	select {
	case w.added <- struct{}{}:
	default: // a token is waiting already
	}
	return len(p), nil
}

// waitFor waits until a line holds every one of words, for up to 10
// seconds, and reports whether one did.
func (w *lineWatcher) waitFor(ctx context.Context, words ...string) bool {
	timeout := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		written := w.written.String()
		w.mu.Unlock()
		for line := range strings.Lines(written) {
			if containsAll(line, words) {
				return true
			}
		}
		select {
		case <-w.added:
		case <-timeout:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
