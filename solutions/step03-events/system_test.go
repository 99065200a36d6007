// The system test runs the three services together, as `make run` does:
// each as a program of its own, at an address of its own, talking to the
// others through RabbitMQ only. It checks what no test of a single service
// can: that the pieces fit.
package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
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
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"
	"github.com/hive-workshop/microservices-go/hive/registry/static"
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
		Kitchen string `json:"kitchen"`
		Orders  []struct {
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
	amqpURL := brokertest.RabbitMQ(t) // skips the test when RabbitMQ is not running
	namespace := hivetest.Namespace(t)
	deleteNamespaceAtEnd(t, amqpURL, namespace, "kitchen.order.placed", "notifier.order.*")

	// As with `make run`, each program listens at an address of its own,
	// and finds the others in a fixed list of addresses (HIVE_STATIC).
	// Here the addresses are free ports that the test picks.
	var instances []registry.Instance
	var list []string
	services := []string{"order", "kitchen", "kitchen", "notifier"}
	for i, addr := range freeAddresses(t, len(services)) {
		instances = append(instances, registry.Instance{ID: services[i] + "-" + addr, Service: services[i], Endpoint: addr})
		list = append(list, services[i]+"="+addr)
	}
	programs := build(t, "order", "kitchen", "notifier")
	env := []string{
		"HIVE_NAMESPACE=" + namespace,
		"HIVE_REGISTRY=static",
		"HIVE_STATIC=" + strings.Join(list, ","),
		"HIVE_EVENTS=rabbitmq",
		"HIVE_AMQP_URL=" + amqpURL,
	}
	for _, inst := range instances {
		start(t, programs[inst.Service], inst.Endpoint, env)
	}

	// The test calls the programs at the same addresses.
	reg := static.New(instances...)
	client := hive.NewClient(reg, hive.ClientOptions{})
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	err := hivetest.Eventually(20*time.Second, func() error {
		for _, inst := range instances {
			if err := client.CallInstance(ctx, inst, "ping", nil, nil); err != nil {
				return fmt.Errorf("%s at %s does not answer ping: %w", inst.Service, inst.Endpoint, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the programs did not all start within 20s: %v", err)
	}

	// This test needs every task before it: a missing one shows here.
	if !subscribes(t, client, "kitchen", "order.placed") {
		t.Fatal("Task 5: the kitchen does not listen to \"order.placed\" events: do task 2 first.")
	}
	if !subscribes(t, client, "notifier", "order.*") {
		t.Fatal("Task 5: the notifier does not listen to \"order.*\" events: subscribe n.notify to them in New (notifier/notifier.go).")
	}

	// A program answers calls a moment before it subscribes to its
	// events, and an event emitted before its queue exists reaches nobody.
	// So wait until RabbitMQ counts the consumers: both kitchens on the
	// kitchen's queue, and the notifier on its own.
	waitForConsumers(t, amqpURL, map[string]int{
		namespace + ".kitchen.order.placed": 2,
		namespace + ".notifier.order.*":     1,
	})

	const count = 10
	var orderIDs []string
	for i := range count {
		var reply placeReply
		req := placeRequest{Items: []item{{Dish: "margherita", Quantity: i + 1}}}
		if err := client.Call(ctx, "order.place", req, &reply); err != nil {
			t.Fatalf("Task 5: order.place failed: %v", err)
		}
		orderIDs = append(orderIDs, reply.OrderID)
	}
	var status hive.Status
	if err := client.Call(ctx, "order.status", nil, &status); err != nil {
		t.Fatalf("call order.status: %v", err)
	}
	if status.EventsEmitted != count {
		t.Fatalf("Task 5: order took %d orders and emitted %d events; want one \"order.placed\" event per order: do task 1 first.", count, status.EventsEmitted)
	}

	// Ask each kitchen what it cooked, and count how often each order was
	// cooked, and by which kitchen.
	kitchens, err := reg.Instances(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	cooks := make(map[string][]string) // kitchen instance ids, by order id
	err = hivetest.Eventually(10*time.Second, func() error {
		clear(cooks)
		for _, kitchen := range kitchens {
			var reply cookedReply
			if err := client.CallInstance(ctx, kitchen, "cooked", struct{}{}, &reply); err != nil {
				return fmt.Errorf("call kitchen.cooked at %s: %w", kitchen.Endpoint, err)
			}
			for _, o := range reply.Orders {
				cooks[o.OrderID] = append(cooks[o.OrderID], reply.Kitchen)
			}
		}
		if len(cooks) != count {
			return fmt.Errorf("the two kitchens cooked %d of the %d orders", len(cooks), count)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Task 5: the kitchens did not cook all %d orders within 10s: %v; want all of them. Do tasks 2 to 4 first: their tests say what is missing.", count, err)
	}
	byKitchen := make(map[string]int) // how many orders each kitchen cooked
	for _, id := range orderIDs {
		if len(cooks[id]) != 1 {
			t.Errorf("Task 5: order %s was cooked %d times; want once, by one of the two kitchens.", id, len(cooks[id]))
		}
		for _, kitchen := range cooks[id] {
			byKitchen[kitchen]++
		}
	}
	t.Logf("who cooked the %d orders: %v", count, byKitchen)
	if len(byKitchen) != 2 {
		t.Errorf("Task 5: only one kitchen cooked (%v); two kitchens on one queue should share the orders.", byKitchen)
	}

	// The notifier heard of every order twice: placed, and ready.
	err = hivetest.Eventually(10*time.Second, func() error {
		var reply sentReply
		if err := client.Call(ctx, "notifier.sent", struct{}{}, &reply); err != nil {
			return fmt.Errorf("call notifier.sent: %w", err)
		}
		var texts []string
		for _, s := range reply.Notifications {
			texts = append(texts, s.Text)
		}
		var missing []string
		for _, id := range orderIDs {
			for _, text := range []string{"order " + id + " placed", "order " + id + " is ready"} {
				if !slices.Contains(texts, text) {
					missing = append(missing, text)
				}
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("it did not send %d of the %d notifications, such as %q", len(missing), 2*count, missing[0])
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Task 5: the notifier did not send all %d notifications within 10s: %v.\n"+
			"In notify (notifier/notifier.go), send one for each \"order.placed\" and each \"order.cooked\" event.", 2*count, err)
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

// freeAddresses returns count addresses on 127.0.0.1 with free ports,
// which the system picks. The test lets them go again, for the programs.
func freeAddresses(t *testing.T, count int) []string {
	t.Helper()
	var addrs []string
	for range count {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		defer ln.Close() // not before the end: each port must be a new one
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// start runs program, listening at listen, with the extra environment
// env, until the test ends; then it stops it with Ctrl-C (SIGINT), as you
// would. If the program fails, or the test does, the program's output is
// printed.
func start(t *testing.T, program, listen string, env []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, program)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "HIVE_LISTEN="+listen)
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
		name := filepath.Base(program)
		switch {
		case !errors.Is(err, context.Canceled):
			t.Logf("%s at %s (pid %d) ended with %v; its output:\n%s", name, listen, cmd.Process.Pid, err, out.String())
		case t.Failed():
			t.Logf("the output of %s at %s (pid %d):\n%s", name, listen, cmd.Process.Pid, out.String())
		}
	})
}

// subscribes reports whether service has a handler for pattern, as its
// built-in method inspect says.
func subscribes(t *testing.T, client *hive.Client, service, pattern string) bool {
	t.Helper()
	var got hive.Inspection
	if err := client.Call(context.Background(), service+".inspect", nil, &got); err != nil {
		t.Fatalf("call %s.inspect: %v", service, err)
	}
	for _, handler := range got.Events {
		if handler.Pattern == pattern {
			return true
		}
	}
	return false
}

// waitForConsumers waits until each queue exists and has as many
// consumers as want says: the programs that take events from it. The web
// UI (http://127.0.0.1:15672) shows the same numbers.
func waitForConsumers(t *testing.T, amqpURL string, want map[string]int) {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatalf("connect to RabbitMQ: %v", err)
	}
	defer conn.Close()
	err = hivetest.Eventually(10*time.Second, func() error {
		for queue, consumers := range want {
			// A passive declare only asks about a queue. When the queue
			// does not exist, it fails and closes its channel; so a new
			// channel for each question.
			ch, err := conn.Channel()
			if err != nil {
				return err
			}
			q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
			if err != nil {
				return fmt.Errorf("queue %s: %w", queue, err)
			}
			ch.Close()
			if q.Consumers != consumers {
				return fmt.Errorf("queue %s has %d consumers, want %d", queue, q.Consumers, consumers)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the programs did not all take events from their queues within 10s: %v", err)
	}
}

// deleteNamespaceAtEnd deletes, when the test ends, what the programs
// declared in RabbitMQ: the namespace's exchange, and each queue with its
// retry and dead-letter queues.
func deleteNamespaceAtEnd(t *testing.T, amqpURL, namespace string, queues ...string) {
	t.Helper()
	t.Cleanup(func() {
		conn, err := amqp.Dial(amqpURL)
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
		if err := ch.ExchangeDelete(namespace, false, false); err != nil {
			t.Logf("delete exchange %s: %v", namespace, err)
		}
	})
}
