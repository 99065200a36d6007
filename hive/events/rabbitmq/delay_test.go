package rabbitmq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
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
