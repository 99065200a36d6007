// The system test runs the three services together, as `make run` does:
// each as a program of its own, talking to the others through RabbitMQ
// only. It checks what no test of a single service can: that the pieces
// fit.
package system

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// The JSON of the methods the test calls. The test declares its own, like
// every service does: the contract is the JSON.
type (
	item struct {
		Dish     string `json:"dish"`
		Quantity int    `json:"quantity"`
	}
	placeRequest struct {
		Items []item `json:"items"`
	}
	placeReply struct {
		OrderID string `json:"order_id"`
	}
	cookedReply struct {
		Orders []struct {
			OrderID string `json:"order_id"`
		} `json:"orders"`
	}
	sentReply struct {
		Notifications []struct {
			Text string `json:"text"`
		} `json:"notifications"`
	}
)

// Two kitchens and one notifier: each order is cooked by one kitchen
// (competing consumers), and the notifier hears of every order and every
// cooked one (fan-out).
func TestTask5_TheWholeRestaurant(t *testing.T) {
	n := hivetest.NewBrokerNetwork(t)
	deleteQueuesAtEnd(t, n.Namespace, "kitchen.order.placed", "notifier.order.*")

	// The services find each other's random ports through ZooKeeper
	// here (step 4 is about that); `make run` gives them fixed ones.
	programs := build(t, "order", "kitchen", "notifier")
	env := []string{
		"HIVE_NAMESPACE=" + n.Namespace,
		"HIVE_LISTEN=127.0.0.1:0",
		"HIVE_REGISTRY=zookeeper",
		"HIVE_ZOOKEEPER=" + strings.Join(hivetest.ZooKeeper(t), ","),
		"HIVE_EVENTS=rabbitmq",
		"HIVE_AMQP_URL=" + hivetest.RabbitMQ(t),
	}
	for _, name := range []string{"order", "kitchen", "kitchen", "notifier"} {
		start(t, programs[name], env)
	}
	ctx := context.Background()
	want := map[string]int{"order": 1, "kitchen": 2, "notifier": 1}
	var instances map[string][]registry.Instance
	allUp := eventually(20*time.Second, func() bool {
		instances = make(map[string][]registry.Instance)
		for service, count := range want {
			list, err := n.Registry.Instances(ctx, service)
			if err != nil || len(list) != count {
				return false
			}
			instances[service] = list
		}
		return true
	})
	if !allUp {
		t.Fatalf("the services did not all start within 20s; want %v, have %d order, %d kitchen and %d notifier instances",
			want, len(instances["order"]), len(instances["kitchen"]), len(instances["notifier"]))
	}

	// This test needs every task before it: a missing one shows here.
	if !subscribes(t, n, "kitchen", "order.placed") {
		t.Fatal("Task 5: the kitchen does not listen to \"order.placed\" events: do task 2 first.")
	}
	if !subscribes(t, n, "notifier", "order.*") {
		t.Fatal("Task 5: the notifier does not listen to \"order.*\" events: subscribe n.notify to them in New (notifier/notifier.go).")
	}

	const count = 10
	var orderIDs []string
	for i := range count {
		var reply placeReply
		req := placeRequest{Items: []item{{Dish: "margherita", Quantity: i + 1}}}
		if err := n.Call(ctx, "order.place", req, &reply); err != nil {
			t.Fatalf("Task 5: order.place failed: %v", err)
		}
		orderIDs = append(orderIDs, reply.OrderID)
	}
	var status hive.Status
	if err := n.Call(ctx, "order.status", nil, &status); err != nil {
		t.Fatalf("call order.status: %v", err)
	}
	if status.EventsEmitted != count {
		t.Fatalf("Task 5: order took %d orders and emitted %d events; want one \"order.placed\" event per order: do task 1 first.", count, status.EventsEmitted)
	}

	// Ask each kitchen what it cooked, and count.
	timesCooked := make(map[string]int)
	byKitchen := make(map[string]int)
	allCooked := eventually(10*time.Second, func() bool {
		clear(timesCooked)
		clear(byKitchen)
		for _, kitchen := range instances["kitchen"] {
			var reply cookedReply
			if err := n.Client().CallInstance(ctx, kitchen, "cooked", struct{}{}, &reply); err != nil {
				return false
			}
			for _, o := range reply.Orders {
				timesCooked[o.OrderID]++
				byKitchen[kitchen.ID]++
			}
		}
		return len(timesCooked) == count
	})
	t.Logf("who cooked the %d orders: %v", count, byKitchen)
	if !allCooked {
		t.Fatalf("Task 5: the two kitchens cooked %d of the %d orders within 10s; want all of them. Do tasks 2 to 4 first: their tests say what is missing.", len(timesCooked), count)
	}
	for _, id := range orderIDs {
		if timesCooked[id] != 1 {
			t.Errorf("Task 5: order %s was cooked %d times; want once, by one of the two kitchens.", id, timesCooked[id])
		}
	}
	if len(byKitchen) != 2 {
		t.Errorf("Task 5: only one kitchen cooked (%v); two kitchens on one queue should share the orders.", byKitchen)
	}

	// The notifier heard of every order twice: placed, and ready.
	var texts []string
	eventually(10*time.Second, func() bool {
		var reply sentReply
		if err := n.Call(ctx, "notifier.sent", struct{}{}, &reply); err != nil {
			return false
		}
		texts = texts[:0]
		for _, s := range reply.Notifications {
			texts = append(texts, s.Text)
		}
		return len(texts) >= 2*count
	})
	var missing []string
	for _, id := range orderIDs {
		for _, text := range []string{"order " + id + " placed", "order " + id + " is ready"} {
			if !slices.Contains(texts, text) {
				missing = append(missing, text)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("Task 5: the notifier did not send %d of the %d notifications within 10s, such as %q.\n"+
			"In notify (notifier/notifier.go), send one for each \"order.placed\" and each \"order.cooked\" event.", len(missing), 2*count, missing[0])
	}
}

// build compiles the programs (the folders ./order, ./kitchen, ...) into a
// temporary folder, and returns the path of each.
func build(t *testing.T, names ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	paths := make(map[string]string)
	for _, name := range names {
		args = append(args, "./"+name)
		paths[name] = filepath.Join(dir, name)
	}
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return paths
}

// start runs program with the extra environment env, until the test ends;
// then it stops it with Ctrl-C (SIGINT), as you would. If the program
// fails, its output is printed.
func start(t *testing.T, program string, env []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, program)
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second // then it is killed
	// One buffer for both: os/exec then writes to it from one goroutine
	// at a time. It is read only after the program ended.
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", program, err)
	}
	t.Cleanup(func() {
		cancel()
		// A program that stopped cleanly after Ctrl-C ends with ctx's
		// error, context.Canceled; anything else went wrong, and its
		// output says what.
		err := cmd.Wait()
		if !errors.Is(err, context.Canceled) {
			t.Logf("%s (pid %d) ended with %v; its output:\n%s", filepath.Base(program), cmd.Process.Pid, err, out.String())
		}
	})
}

// deleteQueuesAtEnd deletes, when the test ends, the queues that the
// programs declared in RabbitMQ: a work queue per subscription, with its
// retry and dead-letter queues. (The test's own network cleans up only
// what it declared itself.)
func deleteQueuesAtEnd(t *testing.T, namespace string, queues ...string) {
	t.Helper()
	url := hivetest.RabbitMQ(t)
	t.Cleanup(func() {
		conn, err := amqp.Dial(url)
		if err != nil {
			t.Logf("delete the test's queues: %v", err)
			return
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Logf("delete the test's queues: %v", err)
			return
		}
		for _, q := range queues {
			for _, suffix := range []string{"", ".retry", ".dead"} {
				if _, err := ch.QueueDelete(namespace+"."+q+suffix, false, false, false); err != nil {
					t.Logf("delete queue %s: %v", namespace+"."+q+suffix, err)
					return // the channel is closed after an error
				}
			}
		}
	})
}

// subscribes reports whether service has a handler for pattern, as its
// built-in method inspect says.
func subscribes(t *testing.T, n *hivetest.Network, service, pattern string) bool {
	t.Helper()
	var got hive.Inspection
	if err := n.Call(context.Background(), service+".inspect", nil, &got); err != nil {
		t.Fatalf("call %s.inspect: %v", service, err)
	}
	for _, handler := range got.Events {
		if handler.Pattern == pattern {
			return true
		}
	}
	return false
}

// eventually calls done every 20ms, until it returns true or until the
// time is up; it reports whether done returned true. Tests wait with it
// for what happens in other processes, instead of sleeping for a guess.
func eventually(within time.Duration, done func() bool) bool {
	deadline := time.After(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-deadline:
			return false
		case <-tick.C:
		}
	}
	return true
}
