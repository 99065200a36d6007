package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
)

var emit = &command{
	name:    "emit",
	args:    "TYPE [JSON]",
	summary: "publish an event",
	about: `Publish an event of the given type with a JSON body, as a service's Emit
would; its source is "hive-cli". Without JSON, the body is read from standard
input; from a terminal, the body is null. It returns once the broker has the
event, or fails if no service subscribes to the type, since nobody would ever
get it. With -after, the event reaches its subscribers no earlier than that
delay from now (rounded up to whole seconds); it waits on the broker meanwhile,
and whether anybody subscribes is known only then.`,
	example: `hive emit order.placed '{"order_id":"o-1","dishes":[1,2]}'`,
	run:     runEmit,
}

func runEmit(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the broker")
	traceID := fs.String("trace-id", "", "the trace id of the event (default: a new one)")
	after := fs.Duration("after", 0, "deliver the event this long from now (such as 30s), not at once")
	args, err := parse(fs, args, 1, 2)
	if err != nil {
		return err
	}
	body, err := c.body(args[1:])
	if err != nil {
		return err
	}
	if body == nil {
		body = json.RawMessage("null")
	}
	if *traceID == "" {
		*traceID = newID()
	}
	bus, err := c.bus(ctx)
	if err != nil {
		return err
	}
	defer bus.Close()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	e := events.Event{ID: newID(), Type: args[0], Source: "hive-cli", TraceID: *traceID, Time: time.Now().UTC(), Body: body}
	if *after > 0 {
		if err := bus.PublishAfter(ctx, *after, e); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "emitted %s for %s from now: id %s, trace id %s\n", e.Type, *after, e.ID, e.TraceID)
		return nil
	}
	if err := bus.Publish(ctx, e); err != nil {
		if errors.Is(err, events.ErrNoSubscriber) {
			return fmt.Errorf("no service subscribes to %s yet, so nobody would get the event: it was not kept", e.Type)
		}
		return err
	}
	fmt.Fprintf(c.stdout, "emitted %s: id %s, trace id %s\n", e.Type, e.ID, e.TraceID)
	return nil
}
