// Command demo runs the finished beehive of step 5 and hurts it: it places
// a steady stream of orders for a while, kills bees on the way, and ends
// with a table of what happened, and whether any order was lost or doubled.
// Run it from the repository's top folder with `make demo` (or
// `go run ./internal/workshop/demo`).
//
// It has two modes:
//
//   - brokers: when RabbitMQ and ZooKeeper answer, every bee is a process
//     of its own, run by hive/node as `hive node` does, and a killed bee
//     gets SIGKILL;
//   - memory: otherwise, the whole beehive runs inside this one process, on
//     the in-memory registry, event bus and ledger, and a killed bee is
//     stopped without a chance to finish its requests. Nothing but Go is
//     needed.
//
// It says which mode it runs in, and why. It exits with 0 only when
// nothing was lost or doubled.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hive-workshop/microservices-go/hive/env"
	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/chaos"
)

// options are the demo's flags.
type options struct {
	mode     string        // auto, brokers or memory
	duration time.Duration // how long orders come
	rate     float64       // orders per second
	verbose  bool          // show the bees' own output
}

func main() {
	var opts options
	flag.StringVar(&opts.mode, "mode", "auto", "auto (brokers if they answer, memory otherwise), brokers or memory")
	flag.DurationVar(&opts.duration, "duration", 15*time.Second, "how long new orders come")
	flag.Float64Var(&opts.rate, "rate", 20, "orders per second")
	flag.BoolVar(&opts.verbose, "v", false, "show the bees' own output too")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, os.Stdout, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// run runs the demo and reports whether nothing was lost or doubled.
func run(ctx context.Context, w io.Writer, opts options) (bool, error) {
	if opts.duration <= 0 || opts.rate <= 0 {
		return false, fmt.Errorf("-duration and -rate must be more than 0")
	}
	settings, err := env.Read()
	if err != nil {
		return false, err
	}
	mode, why, err := chooseMode(opts.mode, settings)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(w, "Mode: %s. %s\n\n", mode, why)

	// A bee dies twice, at 40% and at 80% of the stream of orders.
	load := chaos.Options{
		Rate:      opts.rate,
		Duration:  opts.duration,
		KillEvery: opts.duration * 2 / 5,
		Settle:    20 * time.Second,
		Progress:  w,
	}
	var report *chaos.Report
	switch mode {
	case "brokers":
		report, err = runOnBrokers(ctx, w, settings, load, opts.verbose)
	default:
		report, err = runInMemory(ctx, w, load, opts.verbose)
	}
	if err != nil {
		return false, err
	}
	return report.OK(), nil
}

// chooseMode returns the mode to run in, and why, in words.
func chooseMode(asked string, settings env.Settings) (mode, why string, err error) {
	rabbitMQ := amqpHost(settings.AMQPURL)
	zooKeeper := settings.ZooKeeper[0]
	rabbitErr, zkErr := dial(rabbitMQ), dial(zooKeeper)
	both := fmt.Sprintf("RabbitMQ answers at %s and ZooKeeper at %s", rabbitMQ, zooKeeper)

	switch asked {
	case "brokers":
		if rabbitErr != nil || zkErr != nil {
			return "", "", fmt.Errorf("-mode brokers, but %s: run `make up` first, or use -mode memory", missing(rabbitMQ, rabbitErr, zooKeeper, zkErr))
		}
		return "brokers", both + ": every bee is a process of its own, run by hive node, on the real brokers.", nil
	case "memory":
		return "memory", "You asked for it: the whole beehive runs inside this one process, on the in-memory registry, events and ledger.", nil
	case "auto":
		if rabbitErr == nil && zkErr == nil {
			return "brokers", both + ", so every bee is a process of its own, run by hive node, on the real brokers.", nil
		}
		return "memory", fmt.Sprintf("%s, so the whole beehive runs inside this one process, on the in-memory registry, events and ledger. "+
			"`make up` starts the brokers, for the real thing.", missing(rabbitMQ, rabbitErr, zooKeeper, zkErr)), nil
	}
	return "", "", fmt.Errorf("-mode %q: want auto, brokers or memory", asked)
}

// missing says which brokers do not answer.
func missing(rabbitMQ string, rabbitErr error, zooKeeper string, zkErr error) string {
	var parts []string
	if rabbitErr != nil {
		parts = append(parts, "RabbitMQ does not answer at "+rabbitMQ)
	}
	if zkErr != nil {
		parts = append(parts, "ZooKeeper does not answer at "+zooKeeper)
	}
	return strings.Join(parts, ", and ")
}

// dial returns nil if something listens at addr.
func dial(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return err
	}
	return conn.Close()
}

// amqpHost returns the host:port of an AMQP URL.
func amqpHost(amqpURL string) string {
	rest, _ := strings.CutPrefix(amqpURL, "amqp://")
	if _, after, ok := strings.Cut(rest, "@"); ok {
		rest = after
	}
	host, _, _ := strings.Cut(rest, "/")
	return host
}

// runOnBrokers builds the bee of step 5's solution and runs the beehive
// with hive/node, in a namespace of its own, which it deletes afterwards.
func runOnBrokers(ctx context.Context, w io.Writer, settings env.Settings, load chaos.Options, verbose bool) (*chaos.Report, error) {
	dir, err := os.MkdirTemp("", "hive-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(w, "Building the bee (solutions/step05-beehive/cmd/bee)...")
	bee, err := chaos.BuildBee(ctx, "github.com/hive-workshop/microservices-go/solutions/step05-beehive/cmd/bee", dir)
	if err != nil {
		return nil, err
	}

	var output io.Writer = io.Discard
	if verbose {
		output = w
	}
	namespace := "demo-" + strings.ToLower(rand.Text()[:8])
	fmt.Fprintf(w, "Starting 2 menus, 2 orders and 3 kitchens in namespace %s...\n", namespace)
	fmt.Fprintf(w, "To see it live, in another terminal: HIVE_NAMESPACE=%s make web, and open http://127.0.0.1:7070/\n", namespace)
	b, err := chaos.StartBeehive(ctx, chaos.BeehiveOptions{
		Bee: bee, Namespace: namespace, ZooKeeper: settings.ZooKeeper, AMQPURL: settings.AMQPURL,
		Menus: 2, Orders: 2, Kitchens: 3,
		Env:    map[string]string{"KITCHEN_COOK_TIME": "50ms"},
		Output: output,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			fmt.Fprintln(w, "demo: clean up:", err)
		}
	}()
	fmt.Fprintf(w, "Placing %.0f orders a second for %v, and killing a bee (SIGKILL) every %v:\n\n", load.Rate, load.Duration, load.KillEvery)
	report, err := chaos.Run(ctx, b.Target(), load)
	if err != nil {
		return nil, err
	}
	report.Print(w)
	return report, nil
}

// runInMemory runs the beehive inside this process, and the load on it.
func runInMemory(ctx context.Context, w io.Writer, load chaos.Options, verbose bool) (*chaos.Report, error) {
	logs := io.Discard
	if verbose {
		logs = w
	}
	h, err := startHive(ctx, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		return nil, err
	}
	defer h.stop()
	fmt.Fprintf(w, "Placing %.0f orders a second for %v, and killing a bee (stopped at once, with no time to finish) every %v:\n\n",
		load.Rate, load.Duration, load.KillEvery)
	report, err := chaos.Run(ctx, h.target(), load)
	if err != nil {
		return nil, err
	}
	report.Print(w)
	return report, nil
}
