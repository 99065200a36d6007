package memory

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
)

// TestNoEventIsHandledOnceStopHasBegun keeps every worker busy, queues
// more events behind them, and releases the workers only after stop has
// begun. A worker's select, with both "stopping" and "an event is ready"
// ready, picks one at random: without a second look at stopping, about
// 15 in 16 rounds hand a queued event to the handler while the
// subscription stops. Those events must stay in the queue instead.
func TestNoEventIsHandledOnceStopHasBegun(t *testing.T) {
	const prefetch, queued = 4, 6
	for round := range 5 {
		bus := New(Options{Namespace: fmt.Sprintf("stop-%d", round), Prefetch: prefetch})
		t.Cleanup(func() { bus.Close() })
		s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}

		var handled atomic.Int32
		entered, release := make(chan struct{}, prefetch+queued), make(chan struct{})
		stop, err := bus.Subscribe(context.Background(), s, func(context.Context, events.Event) error {
			handled.Add(1)
			entered <- struct{}{}
			<-release
			return nil
		})
		require.NoError(t, err)
		publish := func(n int) {
			for i := range n {
				e := events.Event{ID: fmt.Sprintf("e-%d-%d", round, i), Type: "order.placed", Time: time.Now(), Source: "test", Body: []byte("{}")}
				require.NoError(t, bus.Publish(context.Background(), e))
			}
		}
		publish(prefetch)
		for range prefetch {
			<-entered // every worker is busy now
		}
		publish(queued)

		var sub *subscription
		bus.mu.Lock()
		for one := range bus.subs { // there is only one
			sub = one
		}
		bus.mu.Unlock()
		stopped := make(chan struct{})
		go func() { stop(); close(stopped) }()
		<-sub.stopping // stop has begun
		close(release)
		<-stopped

		require.EqualValues(t, prefetch, handled.Load(), "round %d: an event reached the handler after stop had begun", round)

		// The queued events were not dropped either: the next subscriber
		// gets them.
		var later atomic.Int32
		_, err = bus.Subscribe(context.Background(), s, func(context.Context, events.Event) error {
			later.Add(1)
			return nil
		})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return later.Load() == queued }, 10*time.Second, time.Millisecond,
			"round %d: the next subscriber got %d of the %d events queued when stop began", round, later.Load(), queued)
	}
}
