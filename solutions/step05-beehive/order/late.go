package order

import (
	"context"
	// BEGIN SOLUTION
	"errors"
	// END SOLUTION
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	// BEGIN SOLUTION
	"github.com/hive-workshop/microservices-go/hive/events"
	// END SOLUTION
)

// lateAfter is how long a customer waits for an order before being told
// that it is late (going further).
const lateAfter = 30 * time.Second

// OrderDue is the body of "order.due", the reminder that order sends
// itself, lateAfter after it announced an order: "is it cooked yet?"
//
//	{"order_id": "7F3K..."}
type OrderDue struct {
	OrderID string `json:"order_id"`
}

// OrderLate is the body of "order.late", the news that an order was not
// cooked in time, for a notifier that tells the customer:
//
//	{"order_id": "7F3K...", "waited": "30s"}
type OrderLate struct {
	OrderID string `json:"order_id"`
	Waited  string `json:"waited"`
}

// remind sends "order.due" for order, to come back lateAfter from now. It
// waits on RabbitMQ meanwhile, not in this instance: whichever order
// instance runs then checks the order, even if this one is long gone.
func (o *orders) remind(ctx context.Context, order Order) error {
	return o.svc.EmitAfter(ctx, o.lateAfter, "order.due", OrderDue{OrderID: order.ID})
}

// checkDue handles "order.due": an order that is not cooked by now is late,
// and the customer is told, once.
func (o *orders) checkDue(ctx context.Context, e hive.Event[OrderDue]) error {
	// TODO(step05) Going further: unless the ledger has "cooked/<order id>" (the kitchen's record) or "late/<order id>" (told before), emit "order.late" (OrderLate, waited: o.lateAfter) and then claim "late/<order id>" in o.ledger; an order.late that nobody subscribes to (events.ErrNoSubscriber) is no failure.
	// BEGIN SOLUTION
	id := e.Body.OrderID
	for _, key := range []string{"cooked/" + id, "late/" + id} {
		_, found, err := o.ledger.Get(ctx, key)
		if err != nil {
			return err // the bus delivers the reminder again later
		}
		if found {
			return nil // cooked in time, or the customer knows already
		}
	}
	// Tell first, record second: if this instance dies in between, the
	// reminder comes again and the customer hears twice, rather than never.
	err := o.svc.Emit(ctx, "order.late", OrderLate{OrderID: id, Waited: o.lateAfter.String()})
	switch {
	case errors.Is(err, events.ErrNoSubscriber):
		o.svc.Logger().InfoContext(ctx, "order is late, and nobody subscribes to order.late to tell the customer", "order_id", id)
	case err != nil:
		return err
	}
	if _, _, err := o.ledger.Claim(ctx, "late/"+id, nil); err != nil {
		return err
	}
	o.svc.Logger().InfoContext(ctx, "order is late: told the customer", "order_id", id)
	// END SOLUTION
	return nil
}
