package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/node"
	"github.com/hive-workshop/microservices-go/hive/registry"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"

	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/ledger"
)

// BuildBee compiles the bee command, the Go package pkg (such as
// "../cmd/bee"), into dir, and returns the program's path. A beehive of
// built programs starts in milliseconds; `go run` would compile first. If
// ctx runs out first, the error is ErrMachine's.
func BuildBee(ctx context.Context, pkg, dir string) (string, error) {
	bee := filepath.Join(dir, "bee")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bee, pkg).CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "", fmt.Errorf("chaos: %w: go build %s did not finish in time", ErrMachine, pkg)
	}
	if err != nil {
		return "", fmt.Errorf("chaos: go build %s: %w\n%s", pkg, err, out)
	}
	return bee, nil
}

// BeehiveOptions describe a beehive of processes.
type BeehiveOptions struct {
	Bee       string   // the bee program (see BuildBee)
	Namespace string   // a namespace of its own, such as hivetest.Namespace gives
	ZooKeeper []string // host:port of each server
	AMQPURL   string   // amqp://user:password@host:port/, or several, comma-separated
	QueueType string   // rabbitmq.Classic (if empty) or rabbitmq.Quorum, for the bees and the beehive's own bus

	Menus, Orders, Kitchens int               // how many bees of each
	Env                     map[string]string // for every bee, such as KITCHEN_COOK_TIME

	// KitchenScale, if set, lets the number of kitchens follow their
	// queue while the beehive runs, as hive.yml's `instances: {min, max,
	// queue}` does under `hive node` (and under make run): they start as
	// KitchenScale.Min, and Kitchens is not used.
	KitchenScale *node.Scale

	// ZooKeeperProxy puts one of the menus behind a network connection to
	// ZooKeeper that ExpireZooKeeperSession can cut. It counts as one of
	// the Menus.
	ZooKeeperProxy bool

	Output io.Writer    // the bees' output, each line after the bee's name; nil: discard
	Logger *slog.Logger // the beehive's own messages (bees dying and starting again); nil: to Output
}

// Beehive is a beehive of processes, run by hive/node as `hive node` runs
// hive.yml, and the connections to the brokers that Run needs to watch it.
type Beehive struct {
	opts     BeehiveOptions
	node     *node.Node
	proxy    *brokertest.Proxy // nil without ZooKeeperProxy
	registry *zookeeper.Registry
	bus      *rabbitmq.Bus
	ledger   *ledger.ZooKeeper

	stop context.CancelFunc // stops the node
	done chan error         // gets the node's Run error

	mu   sync.Mutex
	seen map[int]registry.Instance // every instance the registry listed, by pid
}

// proxiedMenu is the name of the menu behind the proxy, in the node's
// output.
const proxiedMenu = "menu-proxied"

// StartBeehive starts the bees and returns once every one of them is
// registered. Close it when done. If the bees are still starting after a
// minute, and none has died, the error is ErrMachine's.
func StartBeehive(ctx context.Context, opts BeehiveOptions) (_ *Beehive, err error) {
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(opts.Output, nil))
	}
	b := &Beehive{opts: opts, seen: make(map[int]registry.Instance), done: make(chan error, 1)}
	defer func() {
		if err != nil {
			b.Close(context.WithoutCancel(ctx))
		}
	}()

	// The beehive's own connections go straight to the brokers, never
	// through the proxy.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if b.registry, err = zookeeper.New(ctx, opts.ZooKeeper, zookeeper.Options{Namespace: opts.Namespace, Logger: quiet}); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	if b.bus, err = rabbitmq.New(ctx, opts.AMQPURL, rabbitmq.Options{Namespace: opts.Namespace, Logger: quiet, QueueType: opts.QueueType}); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	if b.ledger, err = ledger.Dial(ctx, opts.ZooKeeper, opts.Namespace, quiet); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	if opts.ZooKeeperProxy {
		if b.proxy, err = brokertest.NewProxy(opts.ZooKeeper[0]); err != nil {
			return nil, fmt.Errorf("chaos: %w", err)
		}
	}
	for _, service := range []string{"menu", "order", "kitchen"} {
		if err := b.follow(service); err != nil {
			return nil, err
		}
	}

	b.node = node.New(b.config(), node.Options{Stdout: opts.Output, Color: node.ColorNever, Logger: opts.Logger,
		Backlog: b.bus, ScaleEvery: scaleEvery})
	nodeCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	b.stop = stop
	go func() { b.done <- b.node.Run(nodeCtx) }()

	want := opts.Menus + opts.Orders + opts.kitchens()
	if err := b.waitFor(ctx, time.Minute, func(live int) bool { return live == want }); err != nil {
		return nil, fmt.Errorf("chaos: not every bee started (want %d): %w", want, b.whyNotStarted(err))
	}
	return b, nil
}

// whyNotStarted tells a bee that died on the way (its code, or its
// configuration, is at fault) from bees that are merely slow to start,
// which is the machine's fault. err is why waiting for them ended.
func (b *Beehive) whyNotStarted(err error) error {
	for _, inst := range b.node.Instances() {
		if inst.Restarts > 0 || inst.State == node.Restarting {
			return fmt.Errorf("%w; %s exited on the way", err, inst.Name())
		}
	}
	if errors.Is(err, errTooSlow) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w, and none of them exited: the machine is too busy", ErrMachine, err)
	}
	return err
}

// errTooSlow says that the bees were still starting when waitFor gave up.
var errTooSlow = errors.New("still starting")

// config is the beehive as hive.yml would say it.
func (b *Beehive) config() node.Config {
	o := b.opts
	env := map[string]string{
		"HIVE_NAMESPACE": o.Namespace,
		"HIVE_REGISTRY":  "zookeeper",
		"HIVE_ZOOKEEPER": strings.Join(o.ZooKeeper, ","),
		"HIVE_EVENTS":    "rabbitmq",
		"HIVE_AMQP_URL":  o.AMQPURL,
	}
	if o.QueueType != "" {
		env["HIVE_QUEUE_TYPE"] = o.QueueType
	}
	for k, v := range o.Env {
		env[k] = v
	}
	menus := o.Menus
	var services []node.Service
	if b.proxy != nil {
		menus--
		services = append(services, node.Service{Name: proxiedMenu, Command: []string{o.Bee, "menu"}, Instances: 1,
			Env: map[string]string{"HIVE_ZOOKEEPER": b.proxy.Addr()}})
	}
	for _, s := range []struct {
		name  string
		count int
		scale *node.Scale
	}{{"menu", menus, nil}, {"order", o.Orders, nil}, {"kitchen", o.kitchens(), o.KitchenScale}} {
		if s.count > 0 {
			services = append(services, node.Service{Name: s.name, Command: []string{o.Bee, s.name}, Instances: s.count, Scale: s.scale})
		}
	}
	return node.Config{Env: env, Services: services}
}

// scaleEvery is how often the beehive reads its kitchens' queue, when
// they scale: more often than hive node does, since a test is short.
const scaleEvery = 500 * time.Millisecond

// kitchens is how many kitchens the beehive starts with.
func (o BeehiveOptions) kitchens() int {
	if o.KitchenScale != nil {
		return o.KitchenScale.Min
	}
	return o.Kitchens
}

// follow watches the instances of service, and remembers each by its pid,
// so that a bee the node kills can be named by its hive instance ID.
func (b *Beehive) follow(service string) error {
	updates, err := b.registry.Watch(context.Background(), service)
	if err != nil {
		return fmt.Errorf("chaos: watch %s: %w", service, err)
	}
	go func() {
		for list := range updates { // until the registry closes
			b.mu.Lock()
			for _, inst := range list {
				b.seen[inst.PID] = inst
			}
			b.mu.Unlock()
		}
	}()
	return nil
}

// live counts the instances registered now.
func (b *Beehive) live(ctx context.Context) (int, error) {
	n := 0
	for _, service := range []string{"menu", "order", "kitchen"} {
		list, err := b.registry.Instances(ctx, service)
		if err != nil {
			return 0, err
		}
		n += len(list)
	}
	return n, nil
}

// waitFor waits until ok says yes to the number of live instances, for up
// to within.
func (b *Beehive) waitFor(ctx context.Context, within time.Duration, ok func(live int) bool) error {
	deadline := time.Now().Add(within)
	for {
		live, err := b.live(ctx)
		if err == nil && ok(live) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d bees registered after %v; their output may say why", errTooSlow, live, within)
		}
		select {
		case err := <-b.done:
			b.done <- err // for Stop
			return fmt.Errorf("the node stopped: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Target returns the beehive as Run sees it.
func (b *Beehive) Target() Target {
	return Target{Registry: b.registry, Bus: b.bus, Ledger: b.ledger, Kill: b.Kill}
}

// Ledger returns the beehive's ledger, for tests that look into it.
func (b *Beehive) Ledger() ledger.Ledger { return b.ledger }

// Kill kills a random bee with SIGKILL; the node starts it again.
func (b *Beehive) Kill(ctx context.Context) (Killed, error) {
	name, pid, err := b.node.KillRandom()
	if err != nil {
		return Killed{}, err
	}
	return Killed{Name: name, Instance: b.instance(pid)}, nil
}

// Terminate sends SIGTERM to the bee called name ("kitchen.0"), as Ctrl-C
// or `kill` would: env.Run then stops it gracefully. The node starts it
// again. It returns the hive instance ID the bee had.
func (b *Beehive) Terminate(name string) (string, error) {
	pid := 0 // the bee's process, whose instance ID the registry knows
	for _, inst := range b.node.Instances() {
		if inst.Name() == name {
			pid = inst.PID
		}
	}
	if err := b.node.Signal(name, syscall.SIGTERM); err != nil {
		return "", fmt.Errorf("chaos: %w", err)
	}
	return b.instance(pid), nil
}

// instance returns the hive instance ID of the bee with pid, or "" if the
// registry never listed it.
func (b *Beehive) instance(pid int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[pid].ID
}

// CloseRabbitMQConnections makes RabbitMQ close every connection of the
// beehive's namespace (the bees' and Run's), as a broker restart or a
// network failure would. The bees must connect again by themselves. It
// needs rabbitmqctl, and the right to run it: if rabbitmqctl is missing,
// fails or does not finish before ctx ends, the error is ErrMachine's.
func (b *Beehive) CloseRabbitMQConnections(ctx context.Context) (string, error) {
	n, err := brokertest.CloseRabbitMQConnections(ctx, b.opts.Namespace)
	if err != nil {
		return "", fmt.Errorf("chaos: %w: %w", ErrMachine, err)
	}
	return fmt.Sprintf("RabbitMQ closed all %d connections of the beehive", n), nil
}

// ExpireZooKeeperSession cuts the proxied menu (see
// BeehiveOptions.ZooKeeperProxy) off from ZooKeeper until ZooKeeper
// expires its session, which deletes its registration; then it lets it
// reconnect, and waits until it has registered again.
func (b *Beehive) ExpireZooKeeperSession(ctx context.Context) (string, error) {
	if b.proxy == nil {
		return "", errors.New("chaos: no menu is behind a proxy: set BeehiveOptions.ZooKeeperProxy")
	}
	// pid is the proxied menu's process now; 0 while it is not running.
	pid := func() int {
		for _, inst := range b.node.Instances() {
			if inst.Service == proxiedMenu {
				return inst.PID
			}
		}
		return 0
	}
	registered := func() (bool, error) {
		list, err := b.registry.Instances(ctx, "menu")
		if err != nil {
			return false, err
		}
		p := pid()
		return p != 0 && slices.ContainsFunc(list, func(r registry.Instance) bool { return r.PID == p }), nil
	}
	until := func(want bool, within time.Duration) (time.Duration, error) {
		start := time.Now()
		for {
			got, err := registered()
			if err == nil && got == want {
				return time.Since(start), nil
			}
			if time.Since(start) > within {
				return 0, fmt.Errorf("still registered = %v after %v", !want, within)
			}
			if err := wait(ctx, 50*time.Millisecond); err != nil {
				return 0, err
			}
		}
	}

	before := pid()
	b.proxy.Cut()
	gone, err := until(false, 20*time.Second)
	b.proxy.Restore()
	if err != nil {
		return "", fmt.Errorf("chaos: cut %s.0 off from ZooKeeper, but its registration did not go: %w", proxiedMenu, err)
	}
	back, err := until(true, 20*time.Second)
	if err != nil {
		return "", fmt.Errorf("chaos: %s.0's ZooKeeper session expired, but it did not register again: %w", proxiedMenu, err)
	}
	what := fmt.Sprintf("cut %s.0 off from ZooKeeper: its session expired after %.1fs, and it registered again %.1fs after the network came back",
		proxiedMenu, gone.Seconds(), back.Seconds())
	if pid() != before {
		what += " (but it was also killed meanwhile, and a new process registered)"
	}
	return what, nil
}

// Stop stops every bee gracefully (SIGTERM, as Ctrl-C on `hive node`
// does) and waits until they are gone.
func (b *Beehive) Stop() error {
	if b.stop == nil {
		return nil
	}
	b.stop()
	return <-b.done
}

// Close stops the bees, deletes what the beehive left in RabbitMQ and
// ZooKeeper, and closes its connections.
func (b *Beehive) Close(ctx context.Context) error {
	errs := []error{b.Stop()}
	if b.bus != nil {
		errs = append(errs, b.bus.DeleteQueues(ctx, slices.Concat(kitchenSubscriptions, orderSubscriptions)...), b.bus.DeleteNamespace(ctx))
		b.bus.Close()
	}
	if b.registry != nil {
		b.registry.Close()
	}
	if b.ledger != nil {
		errs = append(errs, b.ledger.DeleteNamespace(ctx))
		b.ledger.Close()
	}
	if b.proxy != nil {
		b.proxy.Close()
	}
	return errors.Join(errs...)
}
