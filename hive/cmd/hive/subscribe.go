package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sync"

	"github.com/hive-workshop/microservices-go/hive/events"
)

var subscribe = &command{
	name:    "subscribe",
	aliases: []string{"tail"},
	args:    "[PATTERN]",
	summary: "print events as they pass (also: tail)",
	about: `Print every event whose type matches PATTERN, until Ctrl-C. In a pattern, "*"
matches one word and "#" any number of words; the default "#" matches every
event. The events are not taken from the services: hive gets a copy of each,
through a queue of its own that goes away when it stops. It only watches: an
event that no service subscribes to is still refused (hive subscribe shows it
anyway), so an order is never accepted because hive was watching.`,
	example: "hive subscribe 'order.*'\nhive tail -json | jq .body",
	run:     runSubscribe,
}

func runSubscribe(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print each event as one line of JSON, envelope and all")
	args, err := parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	pattern := "#"
	if len(args) == 1 {
		pattern = args[0]
	}
	bus, err := c.bus(ctx)
	if err != nil {
		return err
	}
	defer bus.Close()

	// A broadcast subscription gets a queue for this one instance, so that
	// hive sees a copy of every event instead of competing with the
	// services for them; a tap, so that it never counts as a service that
	// took the event.
	sub := events.Subscription{Service: "hive-cli", Name: "tail", Pattern: pattern, Broadcast: true, Instance: "hive-cli-" + newID()[:8], Tap: true}
	var mu sync.Mutex // handlers may run at once; their lines must not mix
	unsubscribe, err := bus.Subscribe(ctx, sub, func(ctx context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if *asJSON {
			line, err := json.Marshal(e)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "%s\n", line)
			return nil
		}
		fmt.Fprintf(c.stdout, "%s %s %s  source=%s trace=%s id=%s\n",
			e.Time.Local().Format("15:04:05.000"), e.Type, e.Body, e.Source, e.TraceID, e.ID)
		return nil
	})
	if err != nil {
		return err
	}
	defer unsubscribe()
	fmt.Fprintf(c.stderr, "Printing events that match %q in namespace %q as %s. Ctrl-C stops.\n", pattern, c.settings.Namespace, sub.Instance)
	<-ctx.Done()
	return nil
}
