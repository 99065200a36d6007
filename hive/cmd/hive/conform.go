package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/hive-workshop/microservices-go/hive/protocol/conform"
)

var conformCmd = &command{
	name:    "conform",
	args:    "SERVICE",
	summary: "check that a running service keeps the wire protocol",
	about: `Check a running service, written in any language, against the hive wire
protocol (PROTOCOL.md), from outside: its records in ZooKeeper, its answers
to good and bad calls (bad JSON, an unknown method, another service's name,
bad timeouts, an oversize body, PUT, the built-ins), and, for a service that
consumes events, that messages that are not events and an event it fails
on end in its dead-letter queue as documented. It prints a checklist, with
the section of PROTOCOL.md each rule comes from, and fails if a rule is
broken.

Run it against a test hive: it calls the service, and publishes to its
queues (it takes back from the dead-letter queue what it sent, and only
that).`,
	example: `hive conform menu
hive conform -fail 'word.seen={"word":"boom"}' pycounter`,
	run: runConform,
}

func runConform(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	fail := fs.String("fail", "", "an event the service fails on, every time, as TYPE=JSON (its body): to check retries and dead letters")
	instance := fs.String("instance", "", "the id of the instance to call (default: the first)")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for a dead letter (a failing event comes after the service's whole retry schedule)")
	args, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	target := conform.Target{
		Service:   args[0],
		Namespace: c.settings.Namespace,
		ZooKeeper: c.settings.ZooKeeper,
		AMQPURL:   c.settings.AMQPURL,
		Instance:  *instance,
		Wait:      *wait,
	}
	if *fail != "" {
		typ, body, ok := strings.Cut(*fail, "=")
		if !ok || typ == "" {
			return usageError(fmt.Sprintf("-fail %q: want TYPE=JSON, such as word.seen={\"word\":\"boom\"}", *fail))
		}
		target.FailType, target.FailBody = typ, body
	}
	if c.settings.Events != "rabbitmq" {
		target.AMQPURL = "" // nothing to check events on
	}
	fmt.Fprintf(c.stdout, "hive conform %s (namespace %q)\n\n", target.Service, target.Namespace)
	report := conform.Check(ctx, target)
	if err := report.Write(c.stdout); err != nil {
		return err
	}
	if !report.OK() {
		return errors.New("the service breaks the protocol: see the ✗ above")
	}
	return nil
}
