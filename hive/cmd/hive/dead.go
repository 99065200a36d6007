package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/hive-workshop/microservices-go/hive/events"
)

var dead = &command{
	name:    "dead",
	args:    "list|show|replay|purge SUBSCRIPTION [ID...]",
	summary: "look at a subscription's dead letters, replay or purge them",
	about: `Act on the dead letters of a subscription: the events its handler failed on
every time it was tried, or refused for good, which now wait for a person.

  list SUBSCRIPTION          one line per dead letter, oldest first: id, type,
                             time, and why it was given up on
  show SUBSCRIPTION ID...    the whole dead letters, reason and event (JSON)
  replay SUBSCRIPTION [ID...]  send them back to the subscription's queue, all
                             of them or those IDs: as new, with all their tries
                             before them and the same event (trace id too).
                             Fix the cause first, or they come back here.
  purge SUBSCRIPTION [ID...] delete them, all or those IDs, for good

SUBSCRIPTION is a service and the name of its handler's queue, as in the
queue's name after the namespace: kitchen.order.placed (hive inspect kitchen
lists the service's subscriptions; a handler's queue is named after its
pattern unless hive.Queue named it). A broadcast subscription's dead letters
belong to its instance: hive cannot reach them.`,
	example: "hive dead list kitchen.order.placed\nhive dead show kitchen.order.placed 5d0b8e2a9c4f1e37\nhive dead replay kitchen.order.placed\nhive dead purge kitchen.order.placed 5d0b8e2a9c4f1e37",
	run:     runDead,
}

func runDead(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	args, err := parse(fs, args, 2, 1<<20)
	if err != nil {
		return err
	}
	action, ids := args[0], args[2:]
	if !slices.Contains([]string{"list", "show", "replay", "purge"}, action) {
		return usageError(fmt.Sprintf("unknown action %q: use list, show, replay or purge", action))
	}
	if action == "list" && len(ids) > 0 {
		return usageError("list takes no IDs: it lists them all")
	}
	if action == "show" && len(ids) == 0 {
		return usageError("show which dead letter? Give its ID: hive dead list shows them")
	}
	s, err := subscriptionOf(args[1])
	if err != nil {
		return err
	}
	bus, err := c.bus(ctx)
	if err != nil {
		return err
	}
	defer bus.Close()
	keeper, ok := bus.(events.DeadLetterKeeper)
	if !ok {
		return fmt.Errorf("the event bus %s=%s keeps no dead letters hive can reach", "HIVE_EVENTS", c.settings.Events)
	}

	switch action {
	case "list", "show":
		letters, err := keeper.DeadLetters(ctx, s)
		if err != nil {
			return err
		}
		if action == "list" {
			return listDead(c, args[1], letters)
		}
		return showDead(c, letters, ids)
	case "replay":
		n, err := keeper.Replay(ctx, s, ids...)
		if err != nil {
			return fmt.Errorf("replayed %d, then: %w", n, err)
		}
		fmt.Fprintf(c.stdout, "replayed %d dead letters of %s into its queue\n", n, args[1])
		return missing(n, ids)
	default:
		n, err := keeper.Purge(ctx, s, ids...)
		if err != nil {
			return fmt.Errorf("purged %d, then: %w", n, err)
		}
		fmt.Fprintf(c.stdout, "purged %d dead letters of %s\n", n, args[1])
		return missing(n, ids)
	}
}

// subscriptionOf reads "service.queue-name" as a subscription of service.
func subscriptionOf(arg string) (events.Subscription, error) {
	service, name, ok := strings.Cut(arg, ".")
	if !ok || service == "" || name == "" {
		return events.Subscription{}, usageError(fmt.Sprintf("subscription %q: want SERVICE.QUEUE, such as kitchen.order.placed", arg))
	}
	return events.Subscription{Service: service, Name: name, Pattern: name}, nil
}

// missing fails when fewer dead letters were acted on than IDs were given.
func missing(n int, ids []string) error {
	if len(ids) > 0 && n < len(ids) {
		return fmt.Errorf("%d of the %d IDs given are not among the dead letters: hive dead list shows them", len(ids)-n, len(ids))
	}
	return nil
}

func listDead(c *cli, sub string, letters []events.DeadLetter) error {
	if len(letters) == 0 {
		fmt.Fprintf(c.stderr, "%s has no dead letters.\n", sub)
		return nil
	}
	for _, l := range letters {
		if l.Event.ID == "" {
			fmt.Fprintf(c.stdout, "%-16s %-20s %-19s %s\n", "-", "(not an event)", "-", l.Reason)
			continue
		}
		fmt.Fprintf(c.stdout, "%-16s %-20s %-19s %s\n", l.Event.ID, l.Event.Type, l.Event.Time.Local().Format("2006-01-02 15:04:05"), l.Reason)
	}
	return nil
}

func showDead(c *cli, letters []events.DeadLetter, ids []string) error {
	shown := 0
	for _, l := range letters {
		if !slices.Contains(ids, l.Event.ID) {
			continue
		}
		out, err := json.MarshalIndent(struct {
			Reason string       `json:"reason"`
			Event  events.Event `json:"event"`
		}{l.Reason, l.Event}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s\n", out)
		shown++
	}
	if shown == 0 {
		return errors.New("no dead letter has that ID: hive dead list shows them")
	}
	return missing(shown, ids)
}
