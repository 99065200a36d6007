package order

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/registry"

	"github.com/hive-workshop/microservices-go/step05-beehive/ledger"
)

// Going further: an order that is not cooked a while after it was placed
// (1 s here; lateAfter, 30 s, in the beehive) is late, and the customer is
// told, once, with an "order.late" event; an order cooked in time is not.
// The reminder waits on the bus (EmitAfter), not in the order instance.
// make further runs it.
func TestFurther_LateOrdersAreToldToTheCustomer(t *testing.T) {
	n := hivetest.NewNetwork(t)
	n.Start(fakeMenu())
	n.Start(standInKitchen()) // takes the orders, and never cooks
	var mu sync.Mutex
	told := make(map[string]int)
	notifier := hive.New("notifier")
	hive.On(notifier, "order.late", func(ctx context.Context, e hive.Event[OrderLate]) error {
		mu.Lock()
		defer mu.Unlock()
		told[e.Body.OrderID]++
		return nil
	})
	n.Start(notifier)
	l := ledger.NewMemory()
	svc := n.Start(newService(l, time.Second))
	on := registry.Instance{ID: svc.ID(), Service: "order", Endpoint: svc.Endpoint()}
	ctx := context.Background()

	inTime, err := place(t, n, on, PlaceRequest{IdempotencyKey: "in-time", Items: []Item{{DishID: 3, Quantity: 1}}})
	if err != nil {
		t.Fatalf("order.place: %v", err)
	}
	if _, _, err := l.Claim(ctx, "cooked/"+inTime.OrderID, []byte(`{}`)); err != nil { // as a kitchen does
		t.Fatal(err)
	}
	placed := time.Now()
	late, err := place(t, n, on, PlaceRequest{IdempotencyKey: "late", Items: []Item{{DishID: 3, Quantity: 1}}})
	if err != nil {
		t.Fatalf("order.place: %v", err)
	}
	// Both reminders handled: order's only handler is checkDue.
	handled := func(want int64) error {
		return hivetest.Eventually(10*time.Second, func() error {
			var status hive.Status
			if err := n.Client().CallInstance(ctx, on, "status", nil, &status); err != nil {
				return err
			}
			if status.EventsHandled < want {
				return fmt.Errorf("order handled %d order.due reminders, want %d: does announce send them (o.remind)?", status.EventsHandled, want)
			}
			return nil
		})
	}
	if err := handled(2); err != nil {
		t.Fatalf("Going further: %v", err)
	}
	err = hivetest.Eventually(5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if told[late.OrderID] == 0 {
			return fmt.Errorf("no order.late for order %s", late.OrderID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Going further: an order not cooked 1 s after it was placed was never reported late.\n" +
			"Write checkDue in order/late.go: unless the ledger says it is cooked, or was reported late before, emit \"order.late\".")
	}
	mu.Lock()
	toldInTime := told[inTime.OrderID]
	mu.Unlock()
	if since := time.Since(placed); since < time.Second {
		t.Errorf("Going further: the order was reported late %v after it was placed, before its time (1 s)", since)
	}
	if toldInTime > 0 {
		t.Errorf("Going further: an order that the ledger says is cooked (\"cooked/<order id>\") was reported late")
	}

	// A reminder delivered twice (at least once!) tells the customer once.
	if err := svc.Emit(ctx, "order.due", OrderDue{OrderID: late.OrderID}); err != nil {
		t.Fatal(err)
	}
	if err := handled(3); err != nil {
		t.Fatalf("Going further: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if told[late.OrderID] != 1 {
		t.Errorf("Going further: the late order was reported %d times; want once: claim \"late/<order id>\" in the ledger once the customer is told, and tell nobody when it is there", told[late.OrderID])
	}
}
