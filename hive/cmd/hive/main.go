// Command hive looks inside a running hive, and runs one: it is the Go
// counterpart of lymph's command line.
//
//	hive discover                          the services and their instances
//	hive inspect SERVICE                   a service's methods and events
//	hive request SERVICE.METHOD [JSON]     call a method, print the answer
//	hive emit TYPE [JSON]                  publish an event
//	hive subscribe [PATTERN]               print events as they pass (or: hive tail)
//	hive dead list|show|replay|purge SUB   a subscription's dead letters
//	hive status                            every instance's counters
//	hive web                               the hive live in a browser
//	hive node [-c hive.yml] [-chaos 5s]    run many instances of each service
//	hive conform SERVICE                   check a service against PROTOCOL.md
//
// It finds the hive the way env.Run does, through the HIVE_* environment
// variables (HIVE_NAMESPACE, HIVE_ZOOKEEPER, HIVE_AMQP_URL, ...), whose
// defaults are the brokers that `make up` starts. Without installing
// anything, run it from the repository's top folder with
//
//	go run ./hive/cmd/hive discover
//
// or install it once with `go install ./hive/cmd/hive`. "hive help" lists
// the commands, "hive COMMAND -h" explains one, with an example.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/hive-workshop/microservices-go/hive/env"
)

func main() {
	// Ctrl-C (SIGINT) or SIGTERM ends ctx, and with it commands that run
	// until stopped, such as subscribe and node; they then clean up.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// commands are hive's commands, in the order "hive help" lists them.
var commands = []*command{discover, inspect, request, emit, subscribe, dead, status, web, node, scale, conformCmd}

// run runs the command that args name and returns the exit code: 0 for
// success, 1 for a failure, 2 for a mistake in the command line.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name, args := args[0], args[1:]
	if name == "help" || name == "-h" || name == "-help" || name == "--help" {
		if len(args) == 0 {
			usage(stdout)
			return 0
		}
		name, args = args[0], []string{"-h"} // "hive help request" is "hive request -h"
	}
	i := slices.IndexFunc(commands, func(c *command) bool { return c.name == name || slices.Contains(c.aliases, name) })
	if i < 0 {
		fmt.Fprintf(stderr, "hive: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	cmd := commands[i]

	settings, err := env.Read()
	if err != nil {
		fmt.Fprintf(stderr, "hive %s: %v\n", cmd.name, err)
		return 1
	}
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, settings: settings, logger: newLogger(stderr, settings)}

	err = cmd.run(ctx, c, cmd.flags(stderr), args)
	var usageErr usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usageErr):
		fmt.Fprintf(stderr, "hive %s: %v\nRun 'hive %s -h' for help.\n", cmd.name, err, cmd.name)
		return 2
	case errors.Is(err, errFlags):
		return 2 // the flag package has said what was wrong
	default:
		fmt.Fprintf(stderr, "hive %s: %v\n", cmd.name, err)
		return 1
	}
}

// newLogger returns the logger for the registry and the event bus. Their
// errors reach the user as the command's error, which says what to do;
// the lines they log on the way (a ZooKeeper client that tries again, say)
// would only be noise, so only errors are logged, unless HIVE_LOG_LEVEL
// asks for more.
func newLogger(w io.Writer, settings env.Settings) *slog.Logger {
	level := slog.LevelError
	if os.Getenv(env.LogLevel) != "" {
		level = settings.LogLevel
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `hive looks inside a running hive of services, and runs one.

Usage:
  hive COMMAND [flags] [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "hive COMMAND -h" for a command's flags and an example.

Environment (the defaults are what "make up" starts):
  HIVE_NAMESPACE  the hive to look at: ZooKeeper root, RabbitMQ exchange (hive)
  HIVE_REGISTRY   zookeeper, static or memory (zookeeper)
  HIVE_ZOOKEEPER  ZooKeeper servers, host:port,... (127.0.0.1:2181)
  HIVE_STATIC     for HIVE_REGISTRY=static: menu=127.0.0.1:8002,order=...
  HIVE_EVENTS     rabbitmq or memory (rabbitmq)
  HIVE_AMQP_URL   RabbitMQ, URL,... (amqp://guest:guest@127.0.0.1:5672/)
  HIVE_AMQP_CA    for amqps:// URLs: the CA's PEM file (the system's CAs)
  HIVE_QUEUE_TYPE classic or quorum, as the services of the hive (classic)
  HIVE_LOG_LEVEL  debug, info, warn or error (error, for this command)

Example:
  hive discover
  hive request greeter.greet '{"name":"Ada"}'
`)
}
