//go:build unix

package node

import (
	"context"
	"fmt"
	"os"
	"os/signal"
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
// SIGTERM it says how many orders it has in hand (taken, not yet cooked),
// which env.Run then drains.
func playKitchen() {
	cook, err := time.ParseDuration(os.Getenv("COOK_TIME"))
	if err != nil {
		fmt.Println("COOK_TIME:", err)
		os.Exit(2)
	}
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
		stove.Lock()
		defer stove.Unlock()
		time.Sleep(cook)
		fmt.Println("cooked", e.ID)
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

	const burst, coolDown = 400, 2 * time.Second
	cfg := Config{
		Env: map[string]string{
			"HIVE_NAMESPACE": ns, "HIVE_REGISTRY": "memory",
			"HIVE_EVENTS": "rabbitmq", "HIVE_AMQP_URL": url,
		},
		Services: []Service{{
			Name: "kitchen", Command: []string{os.Args[0]}, Instances: 1,
			Env:   map[string]string{"NODE_TEST_BEE": "kitchen", "COOK_TIME": "50ms"},
			Scale: &Scale{Min: 1, Max: 4, Queue: "order.placed", PerBee: 5, CoolDown: coolDown},
		}},
	}
	h := startNode(t, cfg, Options{Backlog: bus, ScaleEvery: 200 * time.Millisecond})
	h.waitFor(t, "the kitchen reading its queue", func() bool {
		b, err := bus.Backlog(ctx, orders)
		return err == nil && b.Consumers == 1
	})

	start := time.Now()
	timeline := h.watchCount(ctx, start)
	for i := range burst {
		e := events.Event{ID: fmt.Sprintf("o-%03d", i), Type: "order.placed", Time: time.Now(), Body: []byte(`{}`)}
		require.NoError(t, bus.Publish(ctx, e))
	}

	h.waitFor(t, "more kitchens", func() bool { return h.awake() > 1 })
	up := time.Since(start)
	h.waitForLines(t, "kitchen.3 | cooked", 1)
	_, err = h.node.Scale("kitchen", 1) // as `hive scale kitchen 1` does
	require.NoError(t, err)
	h.waitFor(t, "every order cooked", func() bool { return strings.Count(h.out.String(), "| cooked ") >= burst })
	drained := time.Since(start)
	h.waitFor(t, "one kitchen again, after the cool-down", func() bool { return len(h.node.Instances()) == 1 })
	down := time.Since(start)
	h.stop(t)
	cancel()

	t.Logf("%d orders, published one by one from 0s; more kitchens after %.1fs, all cooked after %.1fs, one kitchen again after %.1fs (cool-down %v).\nKitchens over time: %s",
		burst, up.Seconds(), drained.Seconds(), down.Seconds(), coolDown, strings.Join(<-timeline, ", "))
	t.Logf("The node's decisions:\n%s", strings.Join(regexp.MustCompile(`(?m)^.*bees? → .*$`).FindAllString(h.log.String(), -1), "\n"))
	t.Logf("The kitchens put to sleep:\n%s", strings.Join(regexp.MustCompile(`(?m)^.*SIGTERM with.*$`).FindAllString(h.out.String(), -1), "\n"))

	cooked := map[string]int{}
	for _, m := range regexp.MustCompile(`\| cooked (o-\d+)`).FindAllStringSubmatch(h.out.String(), -1) {
		cooked[m[1]]++
	}
	var lost, doubled []string
	for i := range burst {
		id := fmt.Sprintf("o-%03d", i)
		switch cooked[id] {
		case 0:
			lost = append(lost, id)
		case 1:
		default:
			doubled = append(doubled, id)
		}
	}
	assert.Empty(t, lost, "orders never cooked")
	assert.Empty(t, doubled, "orders cooked twice: a kitchen put to sleep did not finish its work")
	assert.NotContains(t, h.log.String(), "instance died", "a kitchen put to sleep was taken for dead, or one crashed")
	assert.Regexp(t, `kitchen: \d+ order.placed waiting, 1 bee → [234]`, h.log.String())
	assert.Regexp(t, `kitchen\.[123] \| SIGTERM with [1-9]\d* orders in hand`, h.out.String(),
		"no kitchen put to sleep had orders in hand: the test proved no drain")
	assert.Regexp(t, `kitchen: \d+ order.placed waiting, [234] bees → 1`, h.log.String())
}

// awake counts the instances that run and are not put to sleep.
func (h *running) awake() int {
	h.node.mu.Lock()
	defer h.node.mu.Unlock()
	return len(h.node.awake("kitchen"))
}

// watchCount notes the number of awake kitchens whenever it changes, until
// ctx ends; then it sends the notes.
func (h *running) watchCount(ctx context.Context, start time.Time) <-chan []string {
	notes := make(chan []string, 1)
	go func() {
		var list []string
		last := -1
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if n := h.awake(); n != last {
				list = append(list, fmt.Sprintf("%.1fs: %d", time.Since(start).Seconds(), n))
				last = n
			}
			select {
			case <-ctx.Done():
				notes <- list
				return
			case <-tick.C:
			}
		}
	}()
	return notes
}
