// Package kitchen is the kitchen service: it cooks the orders that order
// announces with "order.placed" events, and tells the world with an
// "order.cooked" event.
//
// Many kitchens share the work: each event goes to one of them. But an
// event can come twice: when a kitchen dies after cooking and before
// telling RabbitMQ that it is done, RabbitMQ hands the event to another
// kitchen. In this step each order is cooked once all the same (task 4),
// because the kitchens record every cooked order in a ledger they share.
package kitchen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/env"
	"github.com/hive-workshop/microservices-go/hive/events"

	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/ledger"
)

// OrderPlaced is the body of an "order.placed" event, as far as the kitchen
// cares. The kitchen declares its own copy: services share the JSON, not Go
// code.
type OrderPlaced struct {
	OrderID string `json:"order_id"`
	Items   []Item `json:"items"`
}

// Item is one line of an order.
type Item struct {
	Dish     string `json:"dish"`
	Quantity int    `json:"quantity"`
}

// Cooked says that an order is cooked, by which kitchen instance, and when.
// It is what the ledger keeps under "cooked/<order id>", and the body of the
// "order.cooked" event:
//
//	{"order_id": "7F3K...", "kitchen": "kitchen-1a2b3c4d", "at": "2025-..."}
type Cooked struct {
	OrderID string    `json:"order_id"`
	Kitchen string    `json:"kitchen"`
	At      time.Time `json:"at"`
}

// Options change how a kitchen instance works. The zero value cooks at
// once.
type Options struct {
	// CookTime is how long cooking one order takes.
	CookTime time.Duration
}

// New returns a kitchen service that records the orders it cooks in l,
// which all kitchen instances must share.
func New(l ledger.Ledger, opts Options) *hive.Service {
	svc := hive.New("kitchen")
	k := &kitchen{svc: svc, ledger: l, opts: opts}
	// All kitchen instances share one queue for this handler: each event
	// goes to one of them (competing consumers, step 3).
	hive.On(svc, "order.placed", k.cook)
	return svc
}

// Run runs one kitchen instance as a process, until SIGINT or SIGTERM:
// cmd/bee calls it for `bee kitchen`. The ledger lives in ZooKeeper, in the
// hive's namespace (HIVE_ZOOKEEPER, HIVE_NAMESPACE). KITCHEN_COOK_TIME
// (such as 200ms) is how long cooking one order takes.
func Run() error {
	var opts Options
	if s := os.Getenv("KITCHEN_COOK_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("KITCHEN_COOK_TIME=%q: want a duration, such as 200ms: %w", s, err)
		}
		opts.CookTime = d
	}
	settings, err := env.Read()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := connectLedger(ctx, settings.ZooKeeper, settings.Namespace, settings.Logger())
	if err != nil {
		return err
	}
	defer l.Close()
	return env.Run(New(l, opts))
}

// connectLedger connects to the ledger that all the kitchen instances of a
// namespace share, in ZooKeeper.
func connectLedger(ctx context.Context, servers []string, namespace string, logger *slog.Logger) (*ledger.ZooKeeper, error) {
	return ledger.Dial(ctx, servers, namespace, logger)
}

// kitchen holds what the kitchen's handler needs.
type kitchen struct {
	svc    *hive.Service // to emit events and log
	ledger ledger.Ledger
	opts   Options
}

// cook handles an "order.placed" event: it cooks the order, records it as
// cooked, once for all kitchens, and announces it.
//
// When cook returns nil, hive acks the event and RabbitMQ forgets it. When
// it returns an error, or the kitchen dies first, the event comes again,
// maybe to another kitchen.
func (k *kitchen) cook(ctx context.Context, e hive.Event[OrderPlaced]) error {
	order := e.Body
	if err := ledger.CheckWord(order.OrderID); err != nil {
		// However often it comes back, this event cannot be cooked: an
		// error sends it to the dead letters after a few tries.
		return fmt.Errorf("event %s: order_id %q will not do: %w", e.ID, order.OrderID, err)
	}
	log := k.svc.Logger().With("order_id", order.OrderID)
	log.InfoContext(ctx, "cooking", "items", order.Items)

	// Cooking takes a while. A kitchen that dies now has recorded nothing:
	// the event comes back, and the order is cooked from the start.
	select {
	case <-time.After(k.opts.CookTime):
	case <-ctx.Done():
		return fmt.Errorf("order %s: stopped cooking: %w", order.OrderID, ctx.Err())
	}

	// The dish is ready. Recording it in the ledger is the moment it counts
	// as cooked: the first kitchen to record an order has cooked it, any
	// other one was only warming up.
	cooked := Cooked{OrderID: order.OrderID, Kitchen: k.svc.ID(), At: time.Now().UTC()}

	// TODO(step05) Task 4: claim "cooked/<order id>" in k.ledger with cooked as JSON (encode); if another kitchen claimed it first, decode its record into cooked instead, so that the news below tells who really cooked it.
	// BEGIN SOLUTION
	existing, claimed, err := k.ledger.Claim(ctx, "cooked/"+order.OrderID, encode(cooked))
	if err != nil {
		// Not recorded, or maybe recorded: either way the event comes back
		// and the claim is tried again, and then it tells.
		return fmt.Errorf("order %s: cannot record that it is cooked: %w", order.OrderID, err)
	}
	if !claimed {
		if err := json.Unmarshal(existing, &cooked); err != nil {
			return fmt.Errorf("order %s: the ledger's record is not a Cooked: %w", order.OrderID, err)
		}
		log.InfoContext(ctx, "this order was cooked before: not cooking it again, only announcing it", "cooked_by", cooked.Kitchen)
	}
	// STUB
	// claimed := true
	// END SOLUTION

	if claimed {
		log.InfoContext(ctx, "cooked")
	}
	// Announce it even when another kitchen cooked it: that kitchen may
	// have died after recording it and before it could tell anybody.
	// Anyone who hears "order.cooked" twice hears the same news twice.
	switch err := k.svc.Emit(ctx, "order.cooked", cooked); {
	case errors.Is(err, events.ErrNoSubscriber):
		// Nobody has ever listened to this news: there is nobody to tell,
		// and trying again would not change that.
		log.InfoContext(ctx, "nobody subscribes to order.cooked yet: the news goes unheard")
	case err != nil:
		// Such as events.ErrNotStored: somebody listens, but the bus
		// could not take the news now (a queue of a listener is down).
		// The event comes back; the claim is there by then, so the order
		// is only announced, not cooked again.
		return fmt.Errorf("order %s is cooked, but the news could not go out: %w", order.OrderID, err)
	}
	return nil
}

// encode returns c as JSON. A Cooked always encodes: it holds only strings
// and a time.
func encode(c Cooked) []byte {
	data, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("kitchen: cannot encode a Cooked: %v", err)) // a bug in this file, not in the input
	}
	return data
}
