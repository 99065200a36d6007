package rabbitmq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/internal/workshop/localcluster"
)

// TestDelayedEventsOutliveALostConnection: delayed events wait on the
// broker, not in the publisher or the subscriber. Both lose their
// connections (cut at a proxy) right after the publisher sent 20 events
// for 2 s later; more are sent while the publisher is cut off. The 20 come
// out of the tiers into the kitchen's queue while nobody can take them,
// and once the network is back every event is handled.
func TestDelayedEventsOutliveALostConnection(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	pubProxy, pubURL := proxyTo(t, url)
	subProxy, subURL := proxyTo(t, url)
	publisher, consumer, watcher := newBus(t, pubURL, ns), newBus(t, subURL, ns), newBus(t, url, ns)

	var mu sync.Mutex
	handled := make(map[string]int)
	s := events.Subscription{Service: "notifier", Name: "late", Pattern: "order.late"}
	stop, err := consumer.Subscribe(t.Context(), s, func(_ context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		handled[e.ID]++
		return nil
	})
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	publishAll := func(from, n int) ([]string, error) {
		var ids []string
		for i := from; i < from+n; i++ {
			e := events.Event{ID: fmt.Sprintf("late-%d", i), Type: "order.late", Time: time.Now(), Body: json.RawMessage(`{}`)}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			err := publisher.PublishAfter(ctx, 2*time.Second, e)
			cancel()
			if err != nil {
				return ids, fmt.Errorf("publishing delayed event %s failed: %w", e.ID, err)
			}
			ids = append(ids, e.ID)
		}
		return ids, nil
	}
	ids, err := publishAll(0, 20)
	require.NoError(t, err)
	pubProxy.Cut()
	subProxy.Cut()

	var more []string
	var moreErr error
	publishing := make(chan struct{})
	go func() { // they wait for the publisher's new connection
		defer close(publishing)
		more, moreErr = publishAll(20, 5)
	}()

	require.NoError(t, hivetest.Eventually(20*time.Second, func() error {
		b, err := watcher.Backlog(t.Context(), s)
		if err != nil {
			return err
		}
		if b.Ready < len(ids) || b.Consumers > 0 {
			return fmt.Errorf("%d events waiting in the kitchen's queue and %d consumers, want %d and 0", b.Ready, b.Consumers, len(ids))
		}
		return nil
	}), "the delayed events never came out of the tiers while the subscriber was cut off")
	mu.Lock()
	assert.Empty(t, handled, "events were handled while the subscriber was cut off")
	mu.Unlock()

	pubProxy.Restore()
	subProxy.Restore()
	<-publishing
	require.NoError(t, moreErr, "while the publisher was cut off")
	ids = append(ids, more...)
	require.NoError(t, hivetest.Eventually(20*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		var lost []string
		for _, id := range ids {
			if handled[id] == 0 {
				lost = append(lost, id)
			}
		}
		if len(lost) > 0 {
			return fmt.Errorf("%d of %d delayed events never handled: %v", len(lost), len(ids), lost)
		}
		return nil
	}))
}

// The delay tiers belong to the namespace: DeleteNamespace deletes them,
// whichever process declared them, so that a test whose services sent
// delayed events leaves no queue behind on the broker.
func TestDeleteNamespaceDeletesTheDelayTiers(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	publisher, other := newBus(t, url, ns), newBus(t, url, ns)
	stop, err := other.Subscribe(t.Context(), events.Subscription{Service: "notifier", Name: "late", Pattern: "order.late"},
		func(context.Context, events.Event) error { return nil })
	require.NoError(t, err)
	defer stop()
	e := events.Event{ID: "late-1", Type: "order.late", Time: time.Now(), Body: json.RawMessage(`{}`)}
	require.NoError(t, publisher.PublishAfter(t.Context(), time.Hour, e))

	require.NoError(t, other.DeleteNamespace(t.Context()))
	for _, tier := range []string{ns + ".delay.1s", ns + ".delay.18h12m16s"} {
		_, err := rawChannel(t, url).QueueDeclarePassive(tier, true, false, false, false, nil)
		assert.ErrorContains(t, err, "NOT_FOUND", "the delay tier %s is still there", tier)
	}
}

// restartBase is the first port of the private broker that
// TestDelayedEventsSurviveABrokerRestart restarts: apart from
// TestClusterFaults' (clusterBase) and from `make cluster`'s.
const restartBase = 26900

// TestDelayedEventsSurviveABrokerRestart publishes delayed events to a
// private RabbitMQ node (never the shared one), stops the node while they
// wait and starts it again: every event comes, none before its delay.
func TestDelayedEventsSurviveABrokerRestart(t *testing.T) {
	if os.Getenv(localcluster.TestsEnv) != "1" {
		t.Skipf("starts and restarts a RabbitMQ node of its own, which takes half a minute: %s=1 runs it (make test-cluster)", localcluster.TestsEnv)
	}
	if err := localcluster.Installed(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := localcluster.New(localcluster.Config{Dir: dir, Base: restartBase})
	t.Cleanup(func() { assert.NoError(t, c.Stop()) })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	require.NoError(t, c.StartRabbitMQ(ctx, 1))
	url, ns := c.AMQPURLs()[0], hivetest.Namespace(t)
	bus := newBus(t, url, ns)

	var mu sync.Mutex
	came := make(map[string]time.Time)
	s := events.Subscription{Service: "notifier", Name: "late", Pattern: "order.late"}
	stop, err := bus.Subscribe(t.Context(), s, func(_ context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		came[e.ID] = time.Now()
		return nil
	})
	require.NoError(t, err, "subscribing failed")
	t.Cleanup(stop)

	// Delays from a few seconds, which end while the node is down, to
	// more than the restart takes.
	sent := make(map[string]time.Time)
	delays := make(map[string]time.Duration)
	for i, d := range []time.Duration{3 * time.Second, 7 * time.Second, 20 * time.Second, 45 * time.Second} {
		e := events.Event{ID: fmt.Sprintf("late-%d", i), Type: "order.late", Time: time.Now(), Body: json.RawMessage(`{}`)}
		sent[e.ID], delays[e.ID] = time.Now(), d
		require.NoError(t, bus.PublishAfter(ctx, d, e), "publishing a delayed event failed")
	}
	stopped := time.Now()
	require.NoError(t, c.StopRabbitMQ(1, false), "stopping the node")
	require.NoError(t, c.StartRabbitMQ(ctx, 1), "starting the node again")
	t.Logf("the node was away for %v", time.Since(stopped).Round(100*time.Millisecond))

	require.NoError(t, hivetest.Eventually(2*time.Minute, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(came) < len(sent) {
			return fmt.Errorf("%d of %d delayed events came after the restart", len(came), len(sent))
		}
		return nil
	}))
	mu.Lock()
	defer mu.Unlock()
	for id, at := range came {
		waited := at.Sub(sent[id])
		t.Logf("%s, delay %v: came after %v", id, delays[id], waited.Round(time.Millisecond))
		assert.GreaterOrEqual(t, waited, delays[id], "%s came before its delay", id)
	}
}
