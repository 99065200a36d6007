// Package order is the order service: it takes a customer's order, prices
// it with menu.get, records it, and announces it with an "order.placed"
// event for the kitchens.
//
// In this step, order keeps a promise: placing an order twice with the same
// idempotency key gives the same order, once (task 2). It also picks which
// menu to ask with a policy of its own, LeastInFlight (task 1, picker.go).
package order

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/env"
	"github.com/hive-workshop/microservices-go/hive/events"

	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/ledger"
)

// PlaceRequest is what a customer sends to order.place:
//
//	{"idempotency_key": "lunch-42", "items": [{"dish_id": 3, "quantity": 2}]}
//
// The idempotency key is the customer's name for this one order. Sending the
// same request again with the same key (because no answer came) must not
// make a second order.
type PlaceRequest struct {
	IdempotencyKey string `json:"idempotency_key"`
	Items          []Item `json:"items"`
}

// Item is one dish the customer wants, and how many of it.
type Item struct {
	DishID   int `json:"dish_id"`
	Quantity int `json:"quantity"`
}

// PlaceReply is what order.place answers:
//
//	{"order_id": "7F3K...", "total_cents": 1900, "placed_by": "order-1a2b3c4d"}
type PlaceReply struct {
	OrderID    string `json:"order_id"`
	TotalCents int    `json:"total_cents"`
	PlacedBy   string `json:"placed_by"` // the order instance that placed it first
}

// Order is an order as the ledger keeps it, under "orders/<idempotency key>".
type Order struct {
	ID         string       `json:"id"`
	Items      []Item       `json:"items"` // as the customer asked
	Lines      []PlacedItem `json:"lines"` // the same, with the dishes' names
	TotalCents int          `json:"total_cents"`
	PlacedBy   string       `json:"placed_by"`
	PlacedAt   time.Time    `json:"placed_at"`
}

// OrderPlaced is the body of the "order.placed" event:
//
//	{"order_id": "7F3K...", "items": [{"dish": "funghi", "quantity": 2}]}
type OrderPlaced struct {
	OrderID string       `json:"order_id"`
	Items   []PlacedItem `json:"items"`
}

// PlacedItem is one line of a placed order, by the dish's name.
type PlacedItem struct {
	Dish     string `json:"dish"`
	Quantity int    `json:"quantity"`
}

// dishRequest and dish are what menu.get takes and answers. order declares
// them itself: services share the JSON, not Go code.
type dishRequest struct {
	DishID int `json:"dish_id"`
}

type dish struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PriceCents int    `json:"price_cents"`
}

const (
	// menuTimeout is the longest order waits for menu to answer one lookup.
	menuTimeout = 300 * time.Millisecond

	// ejectFor is how long a menu instance that failed a call sits out.
	ejectFor = time.Second

	// announceTimeout is the longest announce waits for RabbitMQ to take
	// an event. While RabbitMQ is away, place then answers "unavailable"
	// (the order is recorded, not yet announced) before its caller's
	// deadline, rather than leave the caller with a timeout that says
	// nothing; and the relay's next order is not held up.
	announceTimeout = time.Second
)

// New returns the order service. It records orders in l, which all order
// instances must share.
func New(l ledger.Ledger) *hive.Service {
	return newService(l, lateAfter)
}

// newService is New, with customers told that an order is late after
// late instead of lateAfter.
func newService(l ledger.Ledger, late time.Duration) *hive.Service {
	svc := hive.New("order")
	// Calls from this service to menu go to the menu with the fewest calls
	// in flight (task 1).
	svc.SetPicker(NewLeastInFlight(ejectFor))
	o := &orders{svc: svc, ledger: l, lateAfter: late}
	hive.Handle(svc, "place", o.place)
	// A reminder comes back for every order announced (late.go).
	hive.On(svc, "order.due", o.checkDue)
	// The relay announces what was recorded but never announced (relay.go).
	r := &relay{orders: o}
	svc.OnStart(r.start)
	svc.OnStop(r.stop)
	return svc
}

// Run runs one order instance as a process, until SIGINT or SIGTERM:
// cmd/bee calls it for `bee order`. The ledger lives in ZooKeeper, in the
// hive's namespace (HIVE_ZOOKEEPER, HIVE_NAMESPACE).
func Run() error {
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
	return env.Run(New(l))
}

// connectLedger connects to the ledger that all the order instances of a
// namespace share, in ZooKeeper.
func connectLedger(ctx context.Context, servers []string, namespace string, logger *slog.Logger) (*ledger.ZooKeeper, error) {
	return ledger.Dial(ctx, servers, namespace, logger)
}

// orders holds what order's handlers need.
type orders struct {
	svc       *hive.Service // to call menu, emit events and log
	ledger    ledger.Ledger
	lateAfter time.Duration // see late.go
}

// place answers order.place: it prices the order with menu.get, records it
// under the customer's idempotency key, and announces it.
func (o *orders) place(ctx context.Context, req PlaceRequest) (PlaceReply, error) {
	if err := ledger.CheckWord(req.IdempotencyKey); err != nil {
		return PlaceReply{}, hive.Errorf(hive.BadRequest,
			`idempotency_key %q will not do: %v. Make up a fresh key for every new order, such as "lunch-42", and send the same key again only for the same order`,
			req.IdempotencyKey, err)
	}
	order, err := o.price(ctx, req.Items)
	if err != nil {
		return PlaceReply{}, err
	}
	order.ID = rand.Text()
	order.PlacedBy = o.svc.ID()
	order.PlacedAt = time.Now().UTC()
	log := o.svc.Logger().With("idempotency_key", req.IdempotencyKey)

	// TODO(step05) Task 2: claim "orders/<idempotency key>" in o.ledger with the order as JSON (encode); if the key was claimed before, go on with the earlier order instead (o.earlier checks that it is the same order).
	// BEGIN SOLUTION
	existing, claimed, err := o.ledger.Claim(ctx, "orders/"+req.IdempotencyKey, encode(order))
	if err != nil {
		log.WarnContext(ctx, "cannot record the order", "error", err)
		return PlaceReply{}, hive.Errorf(hive.Unavailable, "the order could not be recorded; send it again, with the same idempotency key")
	}
	if !claimed {
		if order, err = o.earlier(existing, req); err != nil {
			return PlaceReply{}, err
		}
		log.InfoContext(ctx, "this key was placed before: answering with the same order", "order_id", order.ID, "placed_by", order.PlacedBy)
	}
	// END SOLUTION

	if err := o.announce(ctx, order); err != nil {
		log.WarnContext(ctx, "cannot announce the order", "order_id", order.ID, "error", err)
		if errors.Is(err, events.ErrNoSubscriber) {
			return PlaceReply{}, hive.Errorf(hive.Unavailable, "the order is recorded, but no kitchen has ever taken orders yet; send it again later, with the same idempotency key")
		}
		return PlaceReply{}, hive.Errorf(hive.Unavailable, "the order is recorded, but the kitchen could not be told yet (RabbitMQ did not take the event); send it again, with the same idempotency key")
	}
	log.InfoContext(ctx, "order placed", "order_id", order.ID, "total_cents", order.TotalCents)
	return PlaceReply{OrderID: order.ID, TotalCents: order.TotalCents, PlacedBy: order.PlacedBy}, nil
}

// price looks up every item on the menu and returns the order they make,
// without its ID yet.
func (o *orders) price(ctx context.Context, items []Item) (Order, error) {
	if len(items) == 0 {
		return Order{}, hive.Errorf(hive.BadRequest, `the order has no items; send some, as in {"items": [{"dish_id": 3, "quantity": 2}]}`)
	}
	order := Order{Items: items}
	for _, item := range items {
		if item.Quantity < 1 {
			return Order{}, hive.Errorf(hive.BadRequest, "dish %d has quantity %d; order 1 or more", item.DishID, item.Quantity)
		}
		d, err := o.dish(ctx, item.DishID)
		if err != nil {
			return Order{}, err
		}
		order.TotalCents += d.PriceCents * item.Quantity
		order.Lines = append(order.Lines, PlacedItem{Dish: d.Name, Quantity: item.Quantity})
	}
	return order, nil
}

// dish asks menu for one dish. Which menu instance answers is up to the
// picker.
func (o *orders) dish(ctx context.Context, id int) (dish, error) {
	ctx, cancel := context.WithTimeout(ctx, menuTimeout)
	defer cancel()
	var d dish
	err := o.svc.Call(ctx, "menu.get", dishRequest{DishID: id}, &d)
	switch {
	case errors.Is(err, hive.ErrNotFound):
		return dish{}, hive.Errorf(hive.BadRequest, "dish %d is not on the menu", id)
	case err != nil:
		o.svc.Logger().WarnContext(ctx, "menu.get failed", "dish_id", id, "error", err)
		return dish{}, hive.Errorf(hive.Unavailable, "cannot look up dish %d: the menu is not available; send the order again later", id)
	}
	return d, nil
}

// earlier decodes the order that an earlier request with the same key
// recorded. A key that comes back with other items is a mistake of the
// customer's: the key names one order, and that one is taken.
func (o *orders) earlier(recorded []byte, req PlaceRequest) (Order, error) {
	order, err := decodeOrder(req.IdempotencyKey, recorded)
	if err != nil {
		return Order{}, err
	}
	if !slices.Equal(order.Items, req.Items) {
		// The items as the customer sent them, in JSON: they know that
		// shape, not Go's.
		items, _ := json.Marshal(order.Items) // numbers only: it cannot fail
		return Order{}, hive.Errorf(hive.Conflict,
			"idempotency_key %q was used already, for the items %s; use a fresh key for a new order", req.IdempotencyKey, items)
	}
	return order, nil
}

// announce emits "order.placed" for order, unless an earlier request with
// the same key did.
//
// It records in the ledger that it did, under "announced/<order id>", but
// only after the event is out: a crash in between means the next request
// with the key announces the order again. A kitchen may then hear of it
// twice, which it copes with (task 4); never hearing of it would be worse.
//
// Emit fails, with events.ErrNoSubscriber, while no kitchen has ever
// subscribed: the event went nowhere. Nothing is recorded then either, so
// the customer's next try announces the order again. (Once a kitchen has
// subscribed, its queue keeps the orders even while no kitchen runs.)
func (o *orders) announce(ctx context.Context, order Order) error {
	key := "announced/" + order.ID
	_, announced, err := o.ledger.Get(ctx, key)
	if err != nil {
		return err
	}
	if announced {
		return nil
	}
	emitCtx, cancel := context.WithTimeout(ctx, emitTimeout(ctx))
	defer cancel()
	if err := o.svc.Emit(emitCtx, "order.placed", OrderPlaced{OrderID: order.ID, Items: order.Lines}); err != nil {
		return err
	}
	if err := o.remind(emitCtx, order); err != nil {
		return err // not announced, then: the next try sends both again
	}
	if _, _, err := o.ledger.Claim(ctx, key, nil); err != nil {
		// The event is out, which is what matters. Without the record, a
		// request with the same key announces again: harmless.
		o.svc.Logger().WarnContext(ctx, "cannot record that the order was announced", "order_id", order.ID, "error", err)
	}
	return nil
}

// decodeOrder decodes the order that the ledger recorded under
// "orders/<key>".
func decodeOrder(key string, recorded []byte) (Order, error) {
	var order Order
	if err := json.Unmarshal(recorded, &order); err != nil {
		return Order{}, fmt.Errorf("the ledger's record of key %q is not an order: %w", key, err)
	}
	return order, nil
}

// emitTimeout is how long announce may wait for RabbitMQ: announceTimeout,
// but no more than half of what is left before ctx's deadline, so that
// there is time left to answer.
func emitTimeout(ctx context.Context) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return min(announceTimeout, time.Until(deadline)/2)
	}
	return announceTimeout
}

// encode returns order as JSON. An Order always encodes: it holds only
// strings, numbers and a time.
func encode(order Order) []byte {
	data, err := json.Marshal(order)
	if err != nil {
		panic(fmt.Sprintf("order: cannot encode an Order: %v", err)) // a bug in this file, not in the input
	}
	return data
}
