package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

func TestHelp(t *testing.T) {
	t.Parallel()
	env := os.Environ()

	res := runHive(t, env, "", "help")
	assert.Equal(t, 0, res.code)
	for _, cmd := range commands {
		assert.Contains(t, res.stdout, "\n  "+cmd.name+" ")
	}

	for _, cmd := range commands {
		res := runHive(t, env, "", cmd.name, "-h")
		assert.Equal(t, 0, res.code)
		assert.Contains(t, res.stderr, "Usage: hive "+cmd.name)
		assert.Contains(t, res.stderr, "Example:\n  hive "+cmd.name)
	}
	assert.Equal(t, runHive(t, env, "", "request", "-h"), runHive(t, env, "", "help", "request"))
	assert.Contains(t, runHive(t, env, "", "tail", "-h").stderr, "Usage: hive subscribe")
}

func TestCommandLineMistakes(t *testing.T) {
	t.Parallel()
	env := os.Environ()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"discovr"}, `unknown command "discovr"`},
		{[]string{"request"}, "too few arguments\nRun 'hive request -h' for help."},
		{[]string{"request", "menu.get", "{}", "more"}, `too many arguments: ["more"]`},
		{[]string{"request", "menu.get", "-timeout", "1s"}, "flags go before the arguments: -timeout"},
		{[]string{"request", "-timeuot", "1s", "menu.get"}, "flag provided but not defined: -timeuot"},
		{[]string{"request", "menu.get", "{nope"}, "the body is not valid JSON"},
		{[]string{"node", "-color", "pink"}, `-color "pink": want auto, always or never`},
	} {
		res := runHive(t, env, "", tc.args...)
		assert.Equal(t, 2, res.code, "hive %q", tc.args)
		assert.Contains(t, res.stderr, tc.want, "hive %q", tc.args)
	}
}

// Without brokers, the commands say what to do, once.
func TestMissingBrokers(t *testing.T) {
	t.Parallel()
	env := append(os.Environ(), "HIVE_ZOOKEEPER="+closedAddr(t), "HIVE_AMQP_URL=amqp://guest:guest@"+closedAddr(t)+"/")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"discover"}, "run `make up`, or set HIVE_ZOOKEEPER"},
		{[]string{"status"}, "run `make up`, or set HIVE_ZOOKEEPER"},
		{[]string{"request", "menu.get"}, "run `make up`, or set HIVE_ZOOKEEPER"},
		{[]string{"emit", "order.placed", "{}"}, "run `make up`, or set HIVE_AMQP_URL"},
		{[]string{"subscribe"}, "run `make up`, or set HIVE_AMQP_URL"},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			t.Parallel() // each waits for ZooKeeper's connect timeout
			res := runHive(t, env, "", tc.args...)
			assert.Equal(t, 1, res.code)
			assert.Equal(t, 1, strings.Count(res.stderr, tc.want), "the advice is missing or doubled")
		})
	}
}

func TestDiscover(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	menus := []*hive.Service{n.Start(newMenu(nil)), n.Start(newMenu(nil))}

	res := runHive(t, brokerEnv(t, n), "", "discover")
	require.Equal(t, 0, res.code)
	assert.Regexp(t, `^SERVICE +INSTANCE +ENDPOINT +VERSION +PID +UP\n`, res.stdout)
	for _, m := range menus {
		assert.Equal(t, []string{"menu", m.ID(), m.Endpoint(), "-", strconv.Itoa(os.Getpid())}, row(t, res.stdout, m.ID())[:5])
	}

	res = runHive(t, brokerEnv(t, n), "", "discover", "kitchen")
	assert.Equal(t, 0, res.code)
	assert.Contains(t, res.stdout, fmt.Sprintf("No services are running in namespace %q.", n.Namespace))
}

func TestInspect(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	n.Start(newMenu(nil))

	res := runHive(t, brokerEnv(t, n), "", "inspect", "menu")
	require.Equal(t, 0, res.code)
	for _, want := range []string{
		"Service menu: 2 methods, 1 event handler.",
		"  get (idempotent)\n",
		`request   main.GetRequest  {"id":0}`,
		`response  main.Dish        {"id":0,"name":""}`,
		"  ping, status, inspect (built in",
		"  order.placed\n",
		`body  main.OrderPlaced  {"order_id":""}`,
		`hive request menu.get '{"id":0}'`,
	} {
		assert.Contains(t, res.stdout, want)
	}

	res = runHive(t, brokerEnv(t, n), "", "inspect", "kitchen")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "hive inspect: kitchen.inspect: unavailable: no instance of service kitchen is running")
}

// request -version: only instances in the range answer, and a range that
// none runs names the versions that do.
func TestRequestWithAVersionRange(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	for _, v := range []string{"1.4.0", "2.0.0"} {
		svc := hive.New("menu")
		svc.SetVersion(v)
		hive.Handle(svc, "version", func(ctx context.Context, _ struct{}) (string, error) { return v, nil })
		n.Start(svc)
	}
	env := brokerEnv(t, n)
	for range 4 {
		res := runHive(t, env, "", "request", "-version", "^1", "menu.version")
		assert.Equal(t, "\"1.4.0\"\n", res.stdout, res.stderr)
	}
	res := runHive(t, env, "", "request", "-version", ">=2.0.0 <3", "menu.version")
	assert.Equal(t, "\"2.0.0\"\n", res.stdout, res.stderr)

	res = runHive(t, env, "", "request", "-version", "^3", "menu.version")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "hive request: menu.version: unavailable: no instance of service menu runs a version in ^3: 2 run, of version 1.4.0 (1), 2.0.0 (1)")
}

func TestRequest(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	n.Start(newMenu(nil))
	env := brokerEnv(t, n)
	const pizza = "{\n  \"id\": 1,\n  \"name\": \"pizza\"\n}\n"

	res := runHive(t, env, "", "request", "menu.get", `{"id": 1}`)
	assert.Equal(t, result{stdout: pizza, stderr: res.stderr, code: 0}, res)
	assert.Regexp(t, `^trace id [0-9a-f]{16}\n$`, res.stderr)

	res = runHive(t, env, `{"id": 1}`, "request", "menu.get") // the body from standard input
	assert.Equal(t, pizza, res.stdout)

	res = runHive(t, env, "", "request", "-trace-id", "trace-of-ada", "menu.trace")
	assert.Equal(t, "\"trace-of-ada\"\n", res.stdout, "the method did not get the trace id")

	res = runHive(t, env, "", "request", "menu.get", `{"id": 7}`)
	assert.Equal(t, 1, res.code)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "hive request: menu.get: not_found: dish 7 does not exist\n")

	res = runHive(t, env, "", "request", "menu.get", `{"id": "one"}`)
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "hive request: menu.get: bad_request: ")

	res = runHive(t, env, "", "request", "menu.nope")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "hive request: menu.nope: not_found: ")
}

func TestEmitReachesASubscribedService(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	placed := make(chan hive.Event[OrderPlaced], 1)
	n.Start(newMenu(placed))

	res := runHive(t, brokerEnv(t, n), "", "emit", "-trace-id", "t-1", "order.placed", `{"order_id": "o-1"}`)
	require.Equal(t, 0, res.code)
	assert.Regexp(t, `^emitted order.placed: id [0-9a-f]{16}, trace id t-1\n$`, res.stdout)

	select {
	case e := <-placed:
		assert.Equal(t, OrderPlaced{OrderID: "o-1"}, e.Body)
		assert.Equal(t, "hive-cli", e.Source)
		assert.Equal(t, "t-1", e.TraceID)
	case <-time.After(20 * time.Second):
		t.Fatal("the menu service did not get the event within 20s")
	}
}

// emit -after 1s: the event comes no earlier than a second later.
func TestEmitAfterADelay(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	placed := make(chan hive.Event[OrderPlaced], 1)
	n.Start(newMenu(placed))

	start := time.Now()
	res := runHive(t, brokerEnv(t, n), "", "emit", "-after", "1s", "order.placed", `{"order_id": "o-1"}`)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Regexp(t, `^emitted order.placed for 1s from now: id [0-9a-f]{16}, trace id [0-9a-f]+\n$`, res.stdout)

	select {
	case e := <-placed:
		assert.Equal(t, OrderPlaced{OrderID: "o-1"}, e.Body)
		assert.GreaterOrEqual(t, time.Since(start), time.Second, "the event came before its delay")
	case <-time.After(20 * time.Second):
		t.Fatal("the menu service did not get the delayed event within 20s")
	}
}

func TestEmitWithoutSubscriberSaysSo(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	placed := make(chan hive.Event[OrderPlaced], 1)
	n.Start(newMenu(placed))

	res := runHive(t, brokerEnv(t, n), "", "emit", "order.cancelled", `{"order_id": "o-1"}`)
	assert.Equal(t, 1, res.code)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "no service subscribes to order.cancelled yet")
}

// subscribe prints events without taking them from the services, through
// a queue of its own that goes away with it.
func TestSubscribe(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	placed := make(chan hive.Event[OrderPlaced], 1)
	n.Start(newMenu(placed))

	tail := startHive(t, brokerEnv(t, n), "subscribe", "order.*")
	ready := tail.stderr.waitFor(t, "Ctrl-C stops.")
	instance := regexp.MustCompile(`as (hive-cli-[0-9a-f]+)\.`).FindStringSubmatch(ready)
	require.NotNil(t, instance, "the subscriber does not say its instance:\n%s", ready)
	queue := n.Namespace + ".hive-cli.tail." + instance[1]
	assert.Equal(t, amqp.ResourceLocked, queueState(t, queue), "the subscriber's queue is not its own, exclusive one")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Nobody takes menu.changed, the subscriber included: its queue is
	// bound to order.* only.
	err := n.Bus.Publish(ctx, events.Event{ID: "e-1", Type: "menu.changed", Source: "test", Body: []byte(`{}`)})
	require.ErrorIs(t, err, events.ErrNoSubscriber, "a queue took menu.changed: is the subscriber bound to more than order.*?")
	// Nor does it count for order.cancelled, which only it watches: it
	// sees the event, but it is no service that will act on it.
	err = n.Bus.Publish(ctx, events.Event{ID: "e-0", Type: "order.cancelled", Source: "test", Body: []byte(`{}`)})
	require.ErrorIs(t, err, events.ErrNoSubscriber, "hive subscribe made order.cancelled look delivered, though no service subscribes to it")
	tail.stdout.waitFor(t, "id=e-0\n")
	e := events.Event{ID: "e-2", Type: "order.placed", Source: "test", TraceID: "t-2", Time: time.Now(), Body: []byte(`{"order_id":"o-2"}`)}
	require.NoError(t, n.Bus.Publish(ctx, e))
	out := tail.stdout.waitFor(t, "id=e-2\n")
	assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d\.\d{3} order.placed \{"order_id":"o-2"\}  source=test trace=t-2 id=e-2$`, out)
	select {
	case e := <-placed:
		assert.Equal(t, "o-2", e.Body.OrderID)
	case <-time.After(20 * time.Second):
		t.Fatal("the menu service did not get the event: did subscribe take it?")
	}

	assert.Equal(t, 0, tail.interrupt(t))
	assert.Eventually(t, func() bool { return queueState(t, queue) == amqp.NotFound }, 10*time.Second, 50*time.Millisecond,
		"the subscriber's queue %s is still there after it stopped", queue)
}

// queueState returns 0 if queue exists and is free to use, and otherwise
// the AMQP code the broker answers a passive declaration with: NotFound,
// or ResourceLocked for another connection's exclusive queue.
func queueState(t *testing.T, queue string) int {
	conn, err := amqp.Dial(brokertest.RabbitMQ(t))
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) {
		return amqpErr.Code
	}
	require.NoError(t, err)
	return 0
}

func TestStatus(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	placed := make(chan hive.Event[OrderPlaced], 1)
	menu := n.Start(newMenu(placed))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ghost := registry.Instance{ID: "ghost-1", Service: "ghost", Endpoint: closedAddr(t)}
	require.NoError(t, n.Registry.Register(ctx, ghost))

	// An event handled, then a call that works and one that fails.
	require.NoError(t, n.Bus.Publish(ctx, events.Event{ID: "e-1", Type: "order.placed", Body: []byte(`{}`)}))
	select {
	case <-placed:
	case <-ctx.Done():
		t.Fatal("the menu service did not get the event within 20s")
	}
	self := registry.Instance{ID: menu.ID(), Service: "menu", Endpoint: menu.Endpoint()}
	var st hive.Status
	for st.EventsHandled == 0 { // the count goes up just after the handler returns
		require.NoError(t, n.Client().CallInstance(ctx, self, "status", nil, &st))
	}
	calls := st.Calls + 1 // that status call itself
	require.NoError(t, n.Call(ctx, "menu.get", GetRequest{ID: 1}, nil))
	require.Error(t, n.Call(ctx, "menu.get", GetRequest{ID: 7}, nil))

	res := runHive(t, brokerEnv(t, n), "", "status")
	require.Equal(t, 0, res.code)
	assert.Regexp(t, `^SERVICE +INSTANCE +ENDPOINT +CALLS +ERRORS +IN-FLIGHT +HANDLED +FAILED +P50 +P99 +CONNS +GOROUTINES +UP\n`, res.stdout)
	fields := row(t, res.stdout, menu.ID())
	assert.Equal(t, []string{"menu", menu.ID(), menu.Endpoint(), strconv.FormatInt(calls+2, 10), "1", "0", "1", "0"}, fields[:8])
	assert.Regexp(t, `^\d+\.\d\dms$`, fields[8])
	assert.Regexp(t, `^[1-9]\d*$`, fields[10], "the status call's own connection is open")
	assert.Regexp(t, `^[1-9]\d*$`, fields[11], "goroutines")
	assert.Contains(t, row(t, res.stdout, "ghost-1"), "unavailable:")
}

// discover and status neither list nor call a record that no caller can
// use (PROTOCOL.md, "A record a caller cannot use"), and count every one.
func TestDiscoverAndStatusSkipRecordsNoCallerCanUse(t *testing.T) {
	t.Parallel()
	n := brokertest.NewZooKeeperNetwork(t)
	menu := n.Start(newMenu(nil))
	conn, err := zookeeper.Connect(t.Context(), brokertest.ZooKeeper(t), zookeeper.Options{})
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	dir := "/" + n.Namespace + "/services/menu/"
	for node, data := range map[string]string{
		"menu-kitchen": `{"id":"menu-kitchen","service":"kitchen","endpoint":"127.0.0.1:1","started":"2026-12-01T19:30:00Z"}`,
		"menu-http":    `{"id":"menu-http","service":"menu","endpoint":"http://127.0.0.1:1","started":"2026-12-01T19:30:00Z"}`,
		"menu-x":       `not a record`,
	} {
		_, err := conn.Create(dir+node, []byte(data), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}
	env := append(brokerEnv(t, n), "HIVE_EVENTS=memory")
	for _, cmd := range []string{"discover", "status"} {
		res := runHive(t, env, "", cmd)
		require.Equal(t, 0, res.code)
		row(t, res.stdout, menu.ID())
		assert.NotContains(t, res.stdout, "127.0.0.1:1\n", "hive %s lists a record no caller can use", cmd)
		assert.Contains(t, res.stdout, "3 records skipped, which no caller can use:", "hive %s", cmd)
		assert.Contains(t, res.stdout, `is listed under "menu"`, "hive %s", cmd)
	}
}

func TestConform(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	n.Start(newMenu(nil))
	res := runHive(t, brokerEnv(t, n), "", "conform", "menu")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "✓ a call meant for another service is unavailable  (PROTOCOL.md: RPC, The request)")
	assert.Contains(t, res.stdout, "0 broken, 1 not checked.", "the event it fails on was not named")

	res = runHive(t, brokerEnv(t, n), "", "conform", "kitchen")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stdout, "✗ the service has an instance node")
	assert.Contains(t, res.stderr, "the service breaks the protocol")

	res = runHive(t, brokerEnv(t, n), "", "conform", "-fail", "nojson", "menu")
	assert.Equal(t, 2, res.code)
}
