package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/env"
	"github.com/hive-workshop/microservices-go/hive/events"
	hivenode "github.com/hive-workshop/microservices-go/hive/node"
)

var node = &command{
	name:    "node",
	summary: "run many instances of each service, as hive.yml says",
	about: `Run a beehive: start the instances of each service that hive.yml lists, each
as a process of its own, and print their output, every line after its
instance's name ("menu.1 | ..."). An instance that dies is started again.
Ctrl-C stops them all: SIGTERM first, so that they finish their work, and
SIGKILL for those still running after the grace period.

hive.yml looks like this (commands run in the current folder):

  env:                     # for every instance
    HIVE_NAMESPACE: demo
  services:
    menu:
      command: [go, run, ./step05-beehive/menu]
      instances: 2         # 1 if left out
      env: {MENU_DELAY: 50ms}

Each instance gets HIVE_LISTEN=127.0.0.1:0 (a free port), unless hive.yml
sets it, and HIVE_INSTANCE_INDEX (0, 1, ...). With -chaos, a random instance
is killed every so often, to show that the hive keeps working; one that
started less than that interval ago is spared, so the hive can come up.

A service can follow its work instead of a fixed count:

    kitchen:
      command: [go, run, ./step05-beehive/kitchen]
      instances: {min: 1, max: 4, queue: order.placed, per_bee: 10, cool_down: 30s}

It starts with min instances. Every 2 seconds the node reads how many events
wait in the service's queue of that handler (RabbitMQ: a passive declare, no
management plugin): more than per_bee (10) a bee, and bees come at once;
little work for cool_down (30s), and the youngest go to sleep (SIGTERM: they
leave the registry and finish their work). Each decision is logged:
"kitchen: 412 order.placed waiting, 2 bees → 4". A service that answers calls
can scale by them instead: instances: {min: 1, max: 4, in_flight: 4} adds a
bee when its instances answer more than 4 calls each at once (the in_flight of
their status built-ins). hive scale sets a count by hand, through the node's
socket (-socket).`,
	example: "hive node -c step05-beehive/hive.yml -chaos 5s",
	run:     runNode,
}

func runNode(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	path := fs.String("c", "hive.yml", "the beehive's configuration `file`")
	chaos := fs.Duration("chaos", 0, "kill a random instance, one that has run this long, at this interval (0: never)")
	grace := fs.Duration("grace", hivenode.DefaultGrace, "how long instances may take to stop before they are killed")
	color := fs.String("color", "auto", "colour the names: auto (on a terminal), always or never")
	socket := fs.String("socket", "", "the unix `socket` that takes hive scale's commands (default: one per HIVE_NAMESPACE in the temporary folder)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	colors, err := colorMode(*color)
	if err != nil {
		return err
	}
	cfg, err := hivenode.Load(*path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: name the beehive's file with -c, for example -c step05-beehive/hive.yml", err)
	}
	if err != nil {
		return err
	}

	// The node's own messages (an instance died, chaos killed one, a
	// service scaled) are the story of the beehive: they are logged from
	// level info on.
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: c.settings.LogLevel}))
	settings := beehiveSettings(c.settings, cfg)
	opts := hivenode.Options{Stdout: c.stdout, Color: colors, Grace: *grace, Chaos: *chaos, Logger: logger}
	if scalesBy(cfg, func(s hivenode.Scale) bool { return s.InFlight > 0 }) {
		reg, err := settings.ConnectRegistry(ctx, logger)
		if err != nil {
			return fmt.Errorf("a service scales by its calls in flight, and counting them needs the registry: %w", err)
		}
		defer reg.Close()
		client := hive.NewClient(reg, hive.ClientOptions{Logger: logger})
		defer client.Close()
		opts.Calls = callCounter{reg: reg, client: client}
	}
	if scalesBy(cfg, func(s hivenode.Scale) bool { return s.Queue != "" }) {
		bus, err := settings.ConnectBus(ctx, logger)
		if err != nil {
			return fmt.Errorf("a service scales by its queue, and reading queues needs the event bus: %w", err)
		}
		defer bus.Close()
		reader, ok := bus.(events.BacklogReader)
		if !ok {
			return fmt.Errorf("a service scales by its queue, but the event bus %s=%s cannot tell how much waits in a queue: use rabbitmq", env.Events, settings.Events)
		}
		opts.Backlog = reader
	}
	n := hivenode.New(cfg, opts)

	if *socket == "" {
		*socket = hivenode.SocketPath(settings.Namespace)
	}
	l, err := hivenode.Listen(*socket)
	if err != nil {
		return err
	}
	control := make(chan error, 1)
	go func() { control <- n.ServeControl(ctx, l) }()

	fmt.Fprintf(c.stderr, "Starting %s of %s from %s. Ctrl-C stops them.\n",
		count(len(n.Instances()), "instance"), count(len(cfg.Services), "service"), *path)
	stopping := context.AfterFunc(ctx, func() {
		fmt.Fprintf(c.stderr, "Stopping every instance: SIGTERM now, SIGKILL after %v.\n", *grace)
	})
	defer stopping()
	err = n.Run(ctx)
	if ctx.Err() == nil { // Run failed by itself: the socket must close too
		l.Close()
	}
	return errors.Join(err, <-control)
}

// beehiveSettings are the settings of the beehive's instances: the
// node's own, with what hive.yml's env says for every instance over them.
// The node reads the instances' queues, in their namespace.
func beehiveSettings(s env.Settings, cfg hivenode.Config) env.Settings {
	for key, to := range map[string]*string{env.Namespace: &s.Namespace, env.Events: &s.Events, env.AMQPURL: &s.AMQPURL,
		env.Registry: &s.Registry, env.Static: &s.Static} {
		if v := cfg.Env[key]; v != "" {
			*to = v
		}
	}
	if v := cfg.Env[env.ZooKeeper]; v != "" {
		s.ZooKeeper = strings.Split(v, ",")
	}
	return s
}

// scalesBy reports whether a service of cfg scales as by says.
func scalesBy(cfg hivenode.Config, by func(hivenode.Scale) bool) bool {
	for _, svc := range cfg.Services {
		if svc.Scale != nil && by(*svc.Scale) {
			return true
		}
	}
	return false
}

func colorMode(s string) (hivenode.ColorMode, error) {
	switch s {
	case "auto":
		if os.Getenv("NO_COLOR") != "" { // https://no-color.org
			return hivenode.ColorNever, nil
		}
		return hivenode.ColorAuto, nil
	case "always":
		return hivenode.ColorAlways, nil
	case "never":
		return hivenode.ColorNever, nil
	}
	return 0, usageError(fmt.Sprintf("-color %q: want auto, always or never", s))
}
