package order

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"

	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/ledger"
)

// Going further: RabbitMQ goes away from the order service for a while.
// Orders placed meanwhile are recorded in the ledger, but cannot be
// announced: order.place says "unavailable" (not "timeout": it knows what
// happened), and the customer gives up. When RabbitMQ is back, the relay
// announces every order recorded and not announced, and each is cooked
// exactly once. (Issue 21, N3: 80 of 300 orders were recorded and never
// cooked.) make further runs it.
func TestFurther_RecordedOrdersAreAnnouncedAfterAnOutage(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	n.Start(fakeMenu())
	cooked, kitchen := countingKitchen()
	k := n.Start(kitchen)
	bus, proxy := brokertest.RabbitMQBehindProxy(t, n) // order's own way to RabbitMQ, which the test cuts
	cfg := n.Config()
	cfg.Bus = bus
	l := ledger.NewMemory()
	svc := n.StartWith(New(l), cfg)
	on := registry.Instance{ID: svc.ID(), Service: "order", Endpoint: svc.Endpoint()}

	if _, err := place(t, n, on, PlaceRequest{IdempotencyKey: "before", Items: []Item{{DishID: 3, Quantity: 1}}}); err != nil {
		t.Fatalf("order.place before the outage: %v", err)
	}
	proxy.Cut()
	const during = 5
	for i := range during {
		_, err := place(t, n, on, PlaceRequest{IdempotencyKey: fmt.Sprintf("during-%d", i), Items: []Item{{DishID: 3, Quantity: 1}}})
		if !errors.Is(err, hive.ErrUnavailable) {
			t.Errorf("order.place while RabbitMQ is away = %v; want unavailable: the order is recorded, not announced, and order knows it", err)
		}
	}
	proxy.Restore()

	recorded, err := l.List(context.Background(), "orders")
	if err != nil {
		t.Fatalf("listing the ledger's orders: %v", err)
	}
	if len(recorded) < 1+during {
		t.Fatalf("Going further: the ledger holds %d orders, want the %d placed: do task 2 first.", len(recorded), 1+during)
	}
	ids := make(map[string]bool)
	for key, data := range recorded {
		order, err := decodeOrder(key, data)
		if err != nil {
			t.Fatal(err)
		}
		ids[order.ID] = true
	}
	// The relay waits relayGrace before it announces an order, looks every
	// relayEvery, and the bus needs a moment to connect again.
	wait := relayGrace + 2*relayEvery + 10*time.Second
	err = hivetest.Eventually(wait, func() error {
		missing := 0
		for id := range ids {
			if cooked.times(id) == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of the %d orders recorded were never announced", missing, len(ids))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Going further: %v seconds after RabbitMQ came back, %v.\n"+
			"Nothing announces an order that was recorded while RabbitMQ was away: write announceRecorded in order/relay.go.", wait.Seconds(), err)
	}

	all := cooked.stopAndCount(t, k)
	for id := range ids {
		if times := all[id]; times != 1 {
			t.Errorf("Going further: order %s was announced %d times; want once: skip the orders with \"announced/<order id>\" in the ledger.", id, times)
		}
	}
}
