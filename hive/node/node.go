// Package node runs a beehive: several instances of each service, each in
// a process of its own, like lymph's node command. It is what `hive node`
// runs.
//
// A Node starts every instance that its Config asks for, prefixes each line
// they print with the instance's name ("menu.1 | ..."), starts an instance
// again when it dies, and, when its context ends, stops them all: SIGTERM
// first, so that they can finish their work, and SIGKILL for those that
// are still there after a grace period. To show that a beehive survives
// losing bees, it can kill a random instance every so often (chaos).
//
// The number of a service's instances can change while it runs: by hand
// (Scale, which `hive scale` reaches through ServeControl's socket), or by
// the service's work (a Scale rule in the Config: the events waiting in
// its queue, or the calls it is answering). Bees come at once; the
// youngest go to sleep gracefully, as at the end.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
)

// EnvInstanceIndex tells each instance which one of its service it is:
// 0, 1, 2 and so on. An instance started again keeps its index.
const EnvInstanceIndex = "HIVE_INSTANCE_INDEX"

// DefaultGrace is how long instances get to stop after SIGTERM. It is a
// little longer than the 10 seconds that env.Run gives in-flight work, so
// that a hive service can always drain.
const DefaultGrace = 12 * time.Second

// Options change how a Node runs. The zero value is ready to use.
type Options struct {
	Stdout io.Writer     // the instances' output, each line prefixed; os.Stdout if nil
	Color  ColorMode     // whether prefixes are coloured; by default only on a terminal
	Grace  time.Duration // how long instances may take to stop; DefaultGrace if 0
	Chaos  time.Duration // if > 0, kill a random instance this often (one that has run at least this long)
	Logger *slog.Logger  // the node's own messages; slog.Default() if nil

	// Backlog reads the queues that services with a Scale.Queue scale by
	// (rabbitmq.Bus is one); it is needed only for those.
	Backlog events.BacklogReader
	// Calls counts the calls in flight of services with a Scale.InFlight;
	// it is needed only for those.
	Calls CallCounter
	// ScaleEvery is how often the node reads their work and decides;
	// DefaultScaleEvery if 0.
	ScaleEvery time.Duration
}

// A CallCounter counts the calls that the instances of a service are
// answering now. `hive node` asks each instance's status built-in.
type CallCounter interface {
	InFlight(ctx context.Context, service string) (int, error)
}

// DefaultScaleEvery is how often a node looks at the work of the services
// that scale by it.
const DefaultScaleEvery = 2 * time.Second

// State is what an instance is doing.
type State string

// The states of an instance.
const (
	Stopped    State = "stopped"    // not started yet, or stopped for good
	Running    State = "running"    // its process runs
	Restarting State = "restarting" // its process died; it starts again soon
	Stopping   State = "stopping"   // it got SIGTERM and has not exited yet
)

// Instance describes one instance of a service, as Instances reports it.
type Instance struct {
	Service  string
	Index    int
	PID      int // of the running process (the leader of its process group); 0 if none
	Restarts int // how often it was started again
	State    State
}

// Name returns the instance's name in the output: "menu.1".
func (i Instance) Name() string { return i.Service + "." + strconv.Itoa(i.Index) }

// Node runs the instances of a Config. Build it with New and Run it once.
type Node struct {
	opts   Options
	logger *slog.Logger
	cfg    Config
	out    *lineWriter
	colors bool
	width  int

	mu      sync.Mutex // guards what follows, and the running state of the bees
	bees    []*bee     // in the order of the Config, a service's by index
	started int        // how many bees were ever made: each gets the next colour
	scalers map[string]*scaler
	run     *runState // while Run runs, until its context ends
}

// runState is what a running Node needs to start a bee.
type runState struct {
	ctx  context.Context
	wg   *sync.WaitGroup
	fail func(error) // a bee cannot start at all: stop the node
}

// New returns a node that runs the instances cfg asks for.
func New(cfg Config, opts Options) *Node {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ScaleEvery <= 0 {
		opts.ScaleEvery = DefaultScaleEvery
	}
	n := &Node{
		opts: opts, logger: opts.Logger, cfg: cfg,
		out:     &lineWriter{w: opts.Stdout},
		colors:  opts.Color.enabled(opts.Stdout),
		width:   nameWidth(cfg),
		scalers: make(map[string]*scaler),
	}
	for _, svc := range cfg.Services {
		if svc.Scale != nil {
			n.scalers[svc.Name] = newScaler(*svc.Scale)
		}
		for i := range svc.Instances {
			n.bees = append(n.bees, n.newBee(svc, i))
		}
	}
	return n
}

// newBee makes instance index of svc, not started yet.
func (n *Node) newBee(svc Service, index int) *bee {
	b := &bee{
		Instance: Instance{Service: svc.Name, Index: index, State: Stopped},
		command:  svc.Command,
		env:      environ(n.cfg, svc, index),
	}
	b.out = newPrefixer(n.out, b.Name(), n.width, n.started, n.colors)
	n.started++
	return b
}

// environ returns the environment of instance index of svc: the node's
// own, then hive.yml's env, then the service's env, then the index.
// exec.Cmd uses the last value of a variable that appears twice, so each
// layer overrides the ones before it.
func environ(cfg Config, svc Service, index int) []string {
	env := os.Environ()
	// Many instances cannot share one port, so each listens on a free one
	// and registers it, unless hive.yml says otherwise.
	env = append(env, "HIVE_LISTEN=127.0.0.1:0")
	for _, vars := range []map[string]string{cfg.Env, svc.Env} {
		for k, v := range vars {
			env = append(env, k+"="+v)
		}
	}
	return append(env, EnvInstanceIndex+"="+strconv.Itoa(index))
}

// Run starts every instance and keeps them running until ctx ends; then it
// stops them all and returns nil once they are gone. A command that cannot
// be started at all (not found, not executable) stops the node, and Run
// returns why: starting it again would not help.
func (n *Node) Run(ctx context.Context) error {
	for _, svc := range n.cfg.Services {
		if svc.Scale != nil && svc.Scale.Queue != "" && n.opts.Backlog == nil {
			return fmt.Errorf("node: %s scales by the queue %s, but the node cannot read queues: give it Options.Backlog", svc.Name, svc.Scale.Queue)
		}
		if svc.Scale != nil && svc.Scale.InFlight > 0 && n.opts.Calls == nil {
			return fmt.Errorf("node: %s scales by its calls in flight, but the node cannot count them: give it Options.Calls", svc.Name)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg     sync.WaitGroup
		errsMu sync.Mutex
		errs   []error
	)
	n.mu.Lock()
	n.run = &runState{ctx: ctx, wg: &wg, fail: func(err error) {
		errsMu.Lock()
		errs = append(errs, err)
		errsMu.Unlock()
		cancel() // stop the others too
	}}
	for _, b := range n.bees {
		n.launch(b)
	}
	n.mu.Unlock()
	if n.opts.Chaos > 0 {
		wg.Go(func() { n.chaos(ctx) })
	}
	if n.opts.Backlog != nil || n.opts.Calls != nil {
		wg.Go(func() { n.autoscale(ctx) })
	}

	<-ctx.Done()
	// From now on no bee starts (see launch), so that wg.Wait is safe.
	n.mu.Lock()
	n.run = nil
	n.mu.Unlock()
	wg.Wait()
	return errors.Join(errs...)
}

// launch supervises b until the node stops or b is put to sleep. The
// caller holds n.mu, and n.run is set.
func (n *Node) launch(b *bee) {
	ctx, cancel := context.WithCancel(n.run.ctx)
	b.cancel = cancel
	fail := n.run.fail
	n.run.wg.Go(func() {
		defer cancel()
		if err := n.supervise(ctx, b); err != nil {
			fail(err)
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if b.asleep { // gone for good
			n.bees = slices.DeleteFunc(n.bees, func(o *bee) bool { return o == b })
		}
	})
}

// Instances reports every instance, in the order of the Config.
func (n *Node) Instances() []Instance {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := make([]Instance, len(n.bees))
	for i, b := range n.bees {
		list[i] = b.Instance
	}
	return list
}

// KillRandom kills one running instance, chosen at random, with SIGKILL:
// no chance to clean up, as when a machine dies. The node starts it again.
// It returns the instance's name and the pid it had.
func (n *Node) KillRandom() (name string, pid int, err error) {
	return n.killRandom(0)
}

// killRandom is KillRandom among the instances that have been running for
// at least minAge.
func (n *Node) killRandom(minAge time.Duration) (name string, pid int, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var running []*bee
	for _, b := range n.bees {
		if b.State == Running && !b.asleep && time.Since(b.started) >= minAge {
			running = append(running, b)
		}
	}
	if len(running) == 0 {
		if minAge > 0 {
			return "", 0, fmt.Errorf("node: no instance has been running for %v yet", minAge)
		}
		return "", 0, errors.New("node: no instance is running")
	}
	b := running[rand.IntN(len(running))]
	if err := kill(b.process); err != nil {
		return "", 0, fmt.Errorf("node: kill %s (pid %d): %w", b.Name(), b.PID, err)
	}
	b.killed = true
	return b.Name(), b.PID, nil
}

// Signal sends sig to the running instance called name ("kitchen.0", as
// Instance.Name says): to its whole process group, as stopping does. If
// the signal ends the instance, the node starts it again, as after a
// crash. It fails if no instance is called name, or if it is not running.
func (n *Node) Signal(name string, sig os.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := slices.IndexFunc(n.bees, func(b *bee) bool { return b.Name() == name })
	if i < 0 {
		return fmt.Errorf("node: no instance is called %q", name)
	}
	b := n.bees[i]
	if b.State != Running {
		return fmt.Errorf("node: %s is %s, not running: no process to signal", name, b.State)
	}
	if err := sendSignal(b.process, sig); err != nil {
		return fmt.Errorf("node: signal %v to %s (pid %d): %w", sig, name, b.PID, err)
	}
	return nil
}

// chaos kills a random instance every opts.Chaos until ctx ends. It spares
// an instance that started less than opts.Chaos ago: on a busy machine a
// service can take longer than that to start, and killing bees that never
// got going would show nothing but a hive that never comes up.
func (n *Node) chaos(ctx context.Context) {
	tick := time.NewTicker(n.opts.Chaos)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		name, pid, err := n.killRandom(n.opts.Chaos)
		if err != nil {
			n.logger.Warn("chaos: nothing killed", "error", err)
			continue
		}
		n.logger.Warn("chaos: killed an instance", "instance", name, "pid", pid)
	}
}
