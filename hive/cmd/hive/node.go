package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

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
started less than that interval ago is spared, so the hive can come up.`,
	example: "hive node -c step05-beehive/hive.yml -chaos 5s",
	run:     runNode,
}

func runNode(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	path := fs.String("c", "hive.yml", "the beehive's configuration `file`")
	chaos := fs.Duration("chaos", 0, "kill a random instance, one that has run this long, at this interval (0: never)")
	grace := fs.Duration("grace", hivenode.DefaultGrace, "how long instances may take to stop before they are killed")
	color := fs.String("color", "auto", "colour the names: auto (on a terminal), always or never")
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

	// The node's own messages (an instance died, chaos killed one) are the
	// story of the beehive: they are logged from level info on.
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: c.settings.LogLevel}))
	n := hivenode.New(cfg, hivenode.Options{Stdout: c.stdout, Color: colors, Grace: *grace, Chaos: *chaos, Logger: logger})
	fmt.Fprintf(c.stderr, "Starting %s of %s from %s. Ctrl-C stops them.\n",
		count(len(n.Instances()), "instance"), count(len(cfg.Services), "service"), *path)
	stopping := context.AfterFunc(ctx, func() {
		fmt.Fprintf(c.stderr, "Stopping every instance: SIGTERM now, SIGKILL after %v.\n", *grace)
	})
	defer stopping()
	return n.Run(ctx)
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
