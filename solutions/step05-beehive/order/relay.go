package order

import (
	"context"
	"time"
)

// How the relay works: every relayEvery, it announces the orders that
// were recorded at least relayGrace ago and are not announced yet. An
// order younger than that may be in the middle of place, which announces
// it itself: leaving it alone spares the kitchen a needless duplicate.
const (
	relayEvery = 2 * time.Second
	relayGrace = 5 * time.Second
)

// A relay announces the orders that place recorded but could not
// announce: RabbitMQ was away, or the instance died between the two, or
// the customer gave up before a retry announced it. It is the other half
// of the outbox: the ledger is the outbox, the order is written there
// first, and the relay makes sure that what is written is sent, however
// long it takes. Every order instance runs one; two relays may announce
// the same order at once, which the kitchen copes with, as it copes with
// any event delivered twice.
type relay struct {
	orders *orders
	cancel context.CancelFunc
	done   chan struct{}
}

// start starts the relay's loop; stop ends it.
func (r *relay) start(ctx context.Context) error {
	ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.done = make(chan struct{})
	go r.run(ctx)
	return nil
}

func (r *relay) stop(ctx context.Context) error {
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *relay) run(ctx context.Context) {
	defer close(r.done)
	tick := time.NewTicker(relayEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := r.orders.announceRecorded(ctx); err != nil && ctx.Err() == nil {
			r.orders.svc.Logger().WarnContext(ctx, "relay: cannot announce the orders recorded yet; trying again soon", "error", err)
		}
	}
}

// announceRecorded announces every order in the ledger that is at least
// relayGrace old and not announced yet (going further).
func (o *orders) announceRecorded(ctx context.Context) error {
	// TODO(step05) Going further: announce (o.announce) every order recorded in o.ledger under "orders" that is at least relayGrace old and has no "announced/<order id>" yet; List reads a folder.
	// BEGIN SOLUTION
	recorded, err := o.ledger.List(ctx, "orders")
	if err != nil {
		return err
	}
	// One read of what is announced, rather than one per order.
	announced, err := o.ledger.List(ctx, "announced")
	if err != nil {
		return err
	}
	log := o.svc.Logger()
	for key, data := range recorded {
		order, err := decodeOrder(key, data)
		if err != nil {
			return err
		}
		_, done := announced[order.ID]
		if done || time.Since(order.PlacedAt) < relayGrace {
			continue // announced, or place may be at it now
		}
		if err := o.announce(ctx, order); err != nil {
			return err // the next round tries again
		}
		log.InfoContext(ctx, "relay: announced a recorded order", "order_id", order.ID)
	}
	// END SOLUTION
	return nil
}
