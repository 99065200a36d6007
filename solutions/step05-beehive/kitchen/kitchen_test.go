package kitchen

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// kitchens starts two kitchens on real brokers, each with a ledger
// connection of its own, as in processes of their own, and listens to the
// "order.cooked" news they send. It returns the network, a ledger
// connection for the test, and the news heard so far.
func kitchens(t *testing.T) (*hivetest.Network, ledgerForTest, func() []Cooked) {
	t.Helper()
	n := brokertest.NewNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := connectLedger(ctx, brokertest.ZooKeeper(t), n.Namespace, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // cleanups run last first: this one after the kitchens are gone
		l.DeleteNamespace(context.Background())
		l.Close()
	})
	for range 2 {
		l, err := connectLedger(ctx, brokertest.ZooKeeper(t), n.Namespace, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		n.Start(New(l, Options{}))
	}

	var mu sync.Mutex
	var news []Cooked
	stop, err := n.Bus.Subscribe(ctx, events.Subscription{Service: "test", Name: "order.cooked", Pattern: "order.cooked"},
		func(ctx context.Context, e events.Event) error {
			var c Cooked
			if err := json.Unmarshal(e.Body, &c); err != nil {
				return err
			}
			mu.Lock()
			news = append(news, c)
			mu.Unlock()
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	heard := func() []Cooked {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(news)
	}
	return n, l, heard
}

// ledgerForTest is what the tests use of the ledger. (The test declares it,
// because it names no package of this step: the exercise and the solution
// import them from different paths.)
type ledgerForTest interface {
	Claim(ctx context.Context, key string, value []byte) ([]byte, bool, error)
	Get(ctx context.Context, key string) ([]byte, bool, error)
}

// deliver publishes an "order.placed" event for orderID, with the event ID
// eventID. Publishing the same event twice is what RabbitMQ does when a
// kitchen dies before it acks: the same event, delivered again.
func deliver(t *testing.T, n *hivetest.Network, eventID, orderID string) {
	t.Helper()
	body, _ := json.Marshal(OrderPlaced{OrderID: orderID, Items: []Item{{Dish: "funghi", Quantity: 2}}})
	e := events.Event{ID: eventID, Type: "order.placed", Source: "test", Time: time.Now().UTC(), Body: body}
	if err := n.Bus.Publish(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

// waitForNews waits until at least count "order.cooked" events were heard.
func waitForNews(t *testing.T, heard func() []Cooked, count int) []Cooked {
	t.Helper()
	err := hivetest.Eventually(10*time.Second, func() error {
		if got := len(heard()); got < count {
			return fmt.Errorf("%d were heard", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Task 4: fewer than %d \"order.cooked\" events were heard within 10s (%v). The kitchen announces every order it handles, also one cooked before.", count, err)
	}
	return heard()
}

func TestTask4_AnOrderDeliveredTwiceIsCookedOnce(t *testing.T) {
	n, l, heard := kitchens(t)
	deliver(t, n, "event-1", "ORDER1")
	deliver(t, n, "event-1", "ORDER1") // again: the same event

	news := waitForNews(t, heard, 2)
	data, found, err := l.Get(context.Background(), "cooked/ORDER1")
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatal("Task 4: order ORDER1 was cooked, but the ledger has no \"cooked/ORDER1\".\n" +
			"In cook (kitchen/kitchen.go), claim \"cooked/\"+order.OrderID in k.ledger with encode(cooked), before announcing it.")
	}
	var record Cooked
	if err := json.Unmarshal(data, &record); err != nil {
		t.Fatalf("Task 4: the ledger's cooked/ORDER1 is not a Cooked as JSON (%v): %q. Claim it with encode(cooked).", err, data)
	}
	for _, c := range news {
		if c.Kitchen != record.Kitchen {
			t.Fatalf("Task 4: order ORDER1 came twice and was announced as cooked by %s and by %s: cooked twice. The ledger says %s cooked it.\n"+
				"When the claim finds the order claimed already, decode the record it returns into cooked, and announce that.",
				news[0].Kitchen, news[1].Kitchen, record.Kitchen)
		}
	}
}

func TestTask4_AnOrderCookedBeforeIsOnlyAnnounced(t *testing.T) {
	n, l, heard := kitchens(t)
	// A kitchen cooked ORDER2 and recorded it, and died before it could
	// announce it or ack the event.
	earlier, _ := json.Marshal(Cooked{OrderID: "ORDER2", Kitchen: "kitchen-gone", At: time.Now().UTC()})
	if _, _, err := l.Claim(context.Background(), "cooked/ORDER2", earlier); err != nil {
		t.Fatal(err)
	}
	deliver(t, n, "event-2", "ORDER2")

	news := waitForNews(t, heard, 1)
	if news[0].Kitchen != "kitchen-gone" {
		t.Fatalf("Task 4: order ORDER2 was cooked by kitchen-gone (the ledger says so), and came again to %s, which announced that it cooked it itself: cooked twice.\n"+
			"When the claim says that another kitchen claimed the order first (claimed is false), decode the record it returns (existing) into cooked.", news[0].Kitchen)
	}
}
