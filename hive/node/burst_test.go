//go:build unix

package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/env"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// playKitchen is a hive service with one stove: it cooks one order at a
// time, for COOK_TIME, and prints "cooked ID". More kitchens cook more
// orders at once, even on a machine of two cores: cooking is waiting. On
// SIGTERM it says how many orders it has in hand (taken, not yet done),
// which env.Run then drains.
//
// With KITCHEN_LEDGER, a folder that all kitchens share, an order counts
// as cooked once a kitchen records it there (a file named by the order,
// created only if there is none): a kitchen killed after cooking and
// before it acked the order has recorded it, so the kitchen that gets it
// again says "already cooked ID" instead of cooking it twice. This is
// step 5's ledger, on a disk instead of ZooKeeper. PLATE_TIME is how long
// a kitchen takes after it recorded an order and before it is done with
// it (off the stove: the next order cooks meanwhile), like step 5's
// kitchen announcing the order: a kitchen killed then has cooked an order
// that comes back.
func playKitchen() {
	cook, err := time.ParseDuration(os.Getenv("COOK_TIME"))
	if err != nil {
		fmt.Println("COOK_TIME:", err)
		os.Exit(2)
	}
	plate, _ := time.ParseDuration(os.Getenv("PLATE_TIME")) // 0 if unset
	ledger := os.Getenv("KITCHEN_LEDGER")
	var inHand atomic.Int64
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM) // env.Run gets it too
	go func() {
		<-term
		fmt.Println("SIGTERM with", inHand.Load(), "orders in hand")
	}()
	svc := hive.New("kitchen")
	var stove sync.Mutex
	hive.On(svc, "order.placed", func(ctx context.Context, e hive.Event[struct{}]) error {
		inHand.Add(1)
		defer inHand.Add(-1)
		fmt.Println("cooking", e.ID)
		stove.Lock()
		time.Sleep(cook)
		stove.Unlock()
		if ledger != "" {
			f, err := os.OpenFile(filepath.Join(ledger, e.ID), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, fs.ErrExist) {
				fmt.Println("already cooked", e.ID)
				return nil
			}
			if err != nil {
				return err // it comes back
			}
			f.Close()
		}
		fmt.Println("cooked", e.ID)
		time.Sleep(plate) // the next order cooks meanwhile
		return nil
	})
	if err := env.Run(svc); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
}

// The burst: 400 orders at once at a node whose kitchen follows its queue
// ({min: 1, max: 4}). More kitchens come within seconds. Once all 4 cook,
// the test puts 3 to sleep by hand, with orders in their hands: they must
// finish those (drain), and the node, after its cool-down, brings them
// back for the backlog. The backlog drains, the kitchens go back to one
// after the cool-down: every order is cooked exactly once. It prints the
// count over time.
func TestBurstScalesKitchensUpAndBackDown(t *testing.T) {
	if testing.Short() {
		t.Skip("the burst takes about 10 seconds; -short leaves it out")
	}
	b := burst{orders: 400, coolDown: 2 * time.Second}
	h := b.run(t)

	lost, doubled := b.audit(h)
	assert.Empty(t, lost, "orders never cooked")
	assert.Empty(t, doubled, "orders cooked twice: a kitchen put to sleep did not finish its work")
	assert.NotContains(t, h.log.String(), "instance died", "a kitchen put to sleep was taken for dead, or one crashed")
}

// The same burst while the node's chaos kills a kitchen (SIGKILL) every
// second: bees are put to sleep by hand and by the scaler, come again
// for the backlog, and die, all at once. The kitchens share a ledger
// (KITCHEN_LEDGER), as step 5's do, because RabbitMQ gives the orders of
// a killed kitchen to another one, cooked or not: every order must be
// recorded once, and no kitchen may say it cooked an order that another
// had cooked.
func TestBurstUnderChaosLosesAndDoublesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("the burst takes about 10 seconds; -short leaves it out")
	}
	b := burst{orders: 400, coolDown: 2 * time.Second, chaos: time.Second, ledger: t.TempDir(), plate: 50 * time.Millisecond}
	h := b.run(t)

	lost, doubled := b.audit(h)
	assert.Empty(t, lost, "orders never cooked")
	assert.Empty(t, doubled, "orders cooked twice: a kitchen cooked an order that the ledger had")
	kills := regexp.MustCompile(`chaos: killed an instance.*`).FindAllString(h.log.String(), -1)
	assert.GreaterOrEqual(t, len(kills), 2, "the chaos killed fewer than 2 kitchens: the test proved little")
	again, cookedBefore := b.again(h), strings.Count(h.out.String(), "| already cooked ")
	t.Logf("The chaos:\n%s\n%d orders came again after a kitchen died with them in hand; %d of those had been cooked and recorded already.",
		strings.Join(kills, "\n"), len(again), cookedBefore)
	assert.NotEmpty(t, again, "no order came twice: the chaos killed no kitchen with orders in hand")
	assert.Positive(t, cookedBefore, "no cooked order came again: the chaos killed no kitchen between recording an order and acking it, and the ledger was not put to the test")
}

// A burst is the script that the burst tests play: orders published at
// once at a node whose kitchens scale by their queue ({min: 1, max: 4}),
// against real RabbitMQ in a namespace of the test's own. Once all 4
// cook, the test puts 3 to sleep by hand; after the cool-down the node
// brings them back for the backlog; once every order is cooked, the node
// takes the kitchens back to one. The test logs the count over time and
// the node's decisions, and checks that the count went up and down.
type burst struct {
	orders   int
	coolDown time.Duration
	chaos    time.Duration // if > 0, the node kills a kitchen this often
	ledger   string        // if set, the kitchens' KITCHEN_LEDGER
	plate    time.Duration // the kitchens' PLATE_TIME
}

// run plays the script and returns the node, stopped.
func (b burst) run(t *testing.T) *running {
	t.Helper()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bus, err := rabbitmq.New(ctx, url, rabbitmq.Options{Namespace: ns, Logger: discard})
	require.NoError(t, err, "cannot connect to RabbitMQ")
	orders := events.Subscription{Service: "kitchen", Name: "order.placed", Pattern: "order.placed"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, bus.DeleteQueues(ctx, orders))
		assert.NoError(t, bus.DeleteNamespace(ctx))
		bus.Close()
	})

	kitchen := map[string]string{"NODE_TEST_BEE": "kitchen", "COOK_TIME": "50ms", "PLATE_TIME": b.plate.String()}
	if b.ledger != "" {
		kitchen["KITCHEN_LEDGER"] = b.ledger
	}
	cfg := Config{
		Env: map[string]string{
			"HIVE_NAMESPACE": ns, "HIVE_REGISTRY": "memory",
			"HIVE_EVENTS": "rabbitmq", "HIVE_AMQP_URL": url,
		},
		Services: []Service{{
			Name: "kitchen", Command: []string{os.Args[0]}, Instances: 1, Env: kitchen,
			Scale: &Scale{Min: 1, Max: 4, Queue: "order.placed", PerBee: 5, CoolDown: b.coolDown},
		}},
	}
	h := startNode(t, cfg, Options{Backlog: bus, ScaleEvery: 200 * time.Millisecond, Chaos: b.chaos})
	h.waitFor(t, "the kitchen reading its queue", func() bool {
		backlog, err := bus.Backlog(ctx, orders)
		return err == nil && backlog.Consumers >= 1
	})

	start := time.Now()
	timeline := h.watchCount(ctx, start)
	for i := range b.orders {
		e := events.Event{ID: orderID(i), Type: "order.placed", Time: time.Now(), Body: []byte(`{}`)}
		require.NoError(t, bus.Publish(ctx, e))
	}

	h.waitFor(t, "more kitchens", func() bool { return h.awake() > 1 })
	up := time.Since(start)
	h.waitForLines(t, "kitchen.3 | cooked", 1)
	_, err = h.node.Scale("kitchen", 1) // as `hive scale kitchen 1` does
	require.NoError(t, err)
	h.waitFor(t, "every order cooked", func() bool { return b.cooked(h) >= b.orders })
	drained := time.Since(start)
	h.waitFor(t, "one kitchen again, after the cool-down", func() bool { return len(h.node.Instances()) == 1 })
	down := time.Since(start)
	h.stop(t)
	cancel()

	counts := <-timeline
	t.Logf("%d orders, published one by one from 0s; more kitchens after %.1fs, all cooked after %.1fs, one kitchen again after %.1fs (cool-down %v).\nKitchens over time: %s",
		b.orders, up.Seconds(), drained.Seconds(), down.Seconds(), b.coolDown, counts)
	t.Logf("The node's decisions:\n%s", strings.Join(regexp.MustCompile(`(?m)^.*bees? → .*$`).FindAllString(h.log.String(), -1), "\n"))
	t.Logf("The kitchens put to sleep:\n%s", strings.Join(regexp.MustCompile(`(?m)^.*SIGTERM with.*$`).FindAllString(h.out.String(), -1), "\n"))

	assert.LessOrEqual(t, counts.max(), 4, "more kitchens awake than hive.yml's max")
	assert.Regexp(t, `kitchen: \d+ order.placed waiting, 1 bee → [234]`, h.log.String())
	assert.Regexp(t, `kitchen\.[123] \| SIGTERM with [1-9]\d* orders in hand`, h.out.String(),
		"no kitchen put to sleep had orders in hand: the test proved no drain")
	assert.Regexp(t, `kitchen: \d+ order.placed waiting, [234] bees → 1`, h.log.String())
	return h
}

// orderID names the burst's i-th order.
func orderID(i int) string { return fmt.Sprintf("o-%03d", i) }

// cookedLine finds the kitchens' "cooked ID" lines.
var cookedLine = regexp.MustCompile(`\| cooked (o-\d+)`)

// cooked counts the orders cooked so far: those in the ledger, if the
// kitchens keep one; else those a kitchen said it cooked.
func (b burst) cooked(h *running) int {
	if b.ledger != "" {
		recorded, err := os.ReadDir(b.ledger)
		if err != nil {
			return 0
		}
		return len(recorded)
	}
	return len(cookedLine.FindAllString(h.out.String(), -1))
}

// audit returns the orders never cooked (lost) and those cooked more
// than once (doubled). An order is cooked once it is in the ledger, if the
// kitchens keep one (a kitchen killed right after recording it did not
// get to say so), else once a kitchen says it cooked it; it is doubled if
// kitchens said so twice.
func (b burst) audit(h *running) (lost, doubled []string) {
	said := map[string]int{}
	for _, m := range cookedLine.FindAllStringSubmatch(h.out.String(), -1) {
		said[m[1]]++
	}
	for i := range b.orders {
		id := orderID(i)
		cooked := said[id] > 0
		if b.ledger != "" {
			_, err := os.Stat(filepath.Join(b.ledger, id))
			cooked = err == nil
		}
		if !cooked {
			lost = append(lost, id)
		}
		if said[id] > 1 {
			doubled = append(doubled, id)
		}
	}
	return lost, doubled
}

// again returns the orders that a kitchen began to cook more than once.
func (b burst) again(h *running) []string {
	began := map[string]int{}
	for _, m := range regexp.MustCompile(`\| cooking (o-\d+)`).FindAllStringSubmatch(h.out.String(), -1) {
		began[m[1]]++
	}
	var again []string
	for id, n := range began {
		if n > 1 {
			again = append(again, id)
		}
	}
	return again
}

// awake counts the instances that run and are not put to sleep.
func (h *running) awake() int {
	h.node.mu.Lock()
	defer h.node.mu.Unlock()
	return len(h.node.awake("kitchen"))
}

// counts are the numbers of awake kitchens over time: n from at on.
type counts []struct {
	at time.Duration
	n  int
}

func (c counts) String() string {
	notes := make([]string, len(c))
	for i, s := range c {
		notes[i] = fmt.Sprintf("%.1fs: %d", s.at.Seconds(), s.n)
	}
	return strings.Join(notes, ", ")
}

// max is the highest count.
func (c counts) max() int {
	m := 0
	for _, s := range c {
		m = max(m, s.n)
	}
	return m
}

// watchCount notes the number of awake kitchens whenever it changes, until
// ctx ends; then it sends the notes.
func (h *running) watchCount(ctx context.Context, start time.Time) <-chan counts {
	notes := make(chan counts, 1)
	go func() {
		var list counts
		last := -1
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		note := func() {
			if n := h.awake(); n != last {
				list = append(list, counts{{time.Since(start), n}}...)
				last = n
			}
		}
		for {
			note()
			select {
			case <-ctx.Done():
				note() // the last change may have come after the last tick
				notes <- list
				return
			case <-tick.C:
			}
		}
	}()
	return notes
}
