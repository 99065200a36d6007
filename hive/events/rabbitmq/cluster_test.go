package rabbitmq_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/eventstest"
	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/internal/workshop/localcluster"
)

// clusterBase is the first port of this package's cluster: apart from
// `make cluster`'s, and from other packages' clusters.
const clusterBase = 26800

// TestClusterFaults runs a bus on a private 3-node RabbitMQ cluster (from
// Debian's rabbitmq-server, as `make cluster` starts it) and stops nodes
// under it: what PROTOCOL.md's "Queue types" says, proven.
func TestClusterFaults(t *testing.T) {
	c := localcluster.ForTest(t, clusterBase)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	started := time.Now()
	require.NoError(t, c.StartRabbitMQCluster(ctx))
	t.Logf("3 RabbitMQ nodes started and clustered in %v", time.Since(started).Round(time.Second))
	urls := c.AMQPURLs()

	t.Run("QuorumQueuesLoseNothingWhenThePublishersNodeDies", func(t *testing.T) {
		ns := hivetest.Namespace(t)
		publisher := newBusOf(t, strings.Join(urls, ","), ns, eventstest.Logger(t), rabbitmq.Quorum)
		victim, err := c.ConnectedTo(ctx, 1, ns)
		require.NoError(t, err)
		var others []string
		for i, u := range urls {
			if i+1 != victim {
				others = append(others, u)
			}
		}
		consumer := newBusOf(t, strings.Join(others, ","), ns, eventstest.Logger(t), rabbitmq.Quorum)
		var mu sync.Mutex
		heard := make(map[string]int)
		stop, err := consumer.Subscribe(ctx, events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"},
			func(_ context.Context, e events.Event) error {
				mu.Lock()
				heard[e.ID]++
				mu.Unlock()
				return nil
			})
		require.NoError(t, err)
		defer stop()

		// Publish under load while node victim, the publisher's, dies.
		var confirmed sync.Map
		var count, failed atomic.Int64
		done := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for n := 0; ; n++ {
					select {
					case <-done:
						return
					default:
					}
					id := fmt.Sprintf("%d-%d", g, n)
					pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
					err := publisher.Publish(pctx, events.Event{ID: id, Type: "order.placed", Body: []byte(`{}`)})
					cancel()
					if err != nil {
						failed.Add(1)
						t.Logf("publish %s: %v", id, err)
						continue
					}
					confirmed.Store(id, true)
					count.Add(1)
				}
			})
		}
		waitFor := func(n int64) {
			require.NoError(t, hivetest.Eventually(time.Minute, func() error {
				if count.Load() < n {
					return fmt.Errorf("%d of %d events confirmed", count.Load(), n)
				}
				return nil
			}))
		}
		waitFor(200)
		killed := time.Now()
		require.NoError(t, c.StopRabbitMQ(victim, true))
		before := count.Load()
		waitFor(before + 200) // on another node
		t.Logf("node %d killed: publishing went on %v later", victim, time.Since(killed).Round(time.Millisecond))
		close(done)
		wg.Wait()

		var lost []string
		require.NoError(t, hivetest.Eventually(time.Minute, func() error {
			lost = lost[:0]
			mu.Lock()
			defer mu.Unlock()
			confirmed.Range(func(id, _ any) bool {
				if heard[id.(string)] == 0 {
					lost = append(lost, id.(string))
				}
				return true
			})
			if len(lost) > 0 {
				return fmt.Errorf("%d confirmed events not handled yet, such as %s", len(lost), lost[0])
			}
			return nil
		}), "a confirmed event was lost")
		assert.Zero(t, failed.Load(), "with a majority of nodes up, no publish may fail")
		t.Logf("%d events confirmed, 0 lost, %d publishes failed", count.Load(), failed.Load())
		require.NoError(t, c.StartRabbitMQ(ctx, victim))
	})

	t.Run("QuorumQueueWithoutAMajorityIsNotStored", func(t *testing.T) {
		ns := hivetest.Namespace(t)
		bus := newBusOf(t, urls[0], ns, eventstest.Logger(t), rabbitmq.Quorum)
		subscribeKitchen(t, bus)
		require.NoError(t, c.StopRabbitMQ(2, true))
		require.NoError(t, c.StopRabbitMQ(3, true))
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		err := bus.Publish(pctx, events.Event{ID: "1", Type: "order.placed", Body: []byte(`{}`)})
		require.ErrorIs(t, err, events.ErrNotStored, "without a majority, the queue cannot take the event, and Publish must say so by its deadline")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, events.ErrNoSubscriber)
		require.NoError(t, errors.Join(c.StartRabbitMQ(ctx, 2), c.StartRabbitMQ(ctx, 3)))
	})

	t.Run("AClassicQueueOnAStoppedNodeIsNotStored", func(t *testing.T) {
		ns := hivetest.Namespace(t)
		// The queue lives on the node that declared it: node 3.
		subscribeKitchen(t, newBus(t, urls[2], ns))
		publisher := newBus(t, urls[0], ns)
		require.NoError(t, publisher.Publish(ctx, events.Event{ID: "1", Type: "order.placed", Body: []byte(`{}`)}))
		require.NoError(t, c.StopRabbitMQ(3, true))
		err := publisher.Publish(ctx, events.Event{ID: "2", Type: "order.placed", Body: []byte(`{}`)})
		require.ErrorIs(t, err, events.ErrNotStored, "the kitchen subscribes; its queue is down, which is no reason to say nobody subscribes")
		assert.NotErrorIs(t, err, events.ErrNoSubscriber)
		require.NoError(t, c.StartRabbitMQ(ctx, 3))
	})
}
