package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// hive dead, against real RabbitMQ: two orders the kitchen could not cook
// lie in its dead letters; one is junk and purged, the other replayed
// once the kitchen is mended, and cooked, in its own trace.
func TestDeadLettersListedShownPurgedAndReplayed(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	var mended atomic.Bool
	cooked := make(chan hive.Event[OrderPlaced], 1)
	kitchen := hive.New("kitchen")
	hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[OrderPlaced]) error {
		if !mended.Load() {
			return errors.New("the oven is cold")
		}
		cooked <- e
		return nil
	})
	n.Start(kitchen)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, e := range []events.Event{
		{ID: "junk-1", Type: "order.placed", Source: "test", TraceID: "t-junk", Time: time.Now(), Body: []byte(`{"order_id":"junk"}`)},
		{ID: "good-1", Type: "order.placed", Source: "test", TraceID: "t-good", Time: time.Now(), Body: []byte(`{"order_id":"o-7"}`)},
	} {
		require.NoError(t, n.Bus.Publish(ctx, e))
	}
	env := brokerEnv(t, n)
	const sub = "kitchen.order.placed"
	err := hivetest.Eventually(20*time.Second, func() error {
		letters, err := n.DeadLetters(ctx, "kitchen", "order.placed")
		if err == nil && len(letters) < 2 {
			err = errors.New("fewer than 2 dead letters")
		}
		return err
	})
	require.NoError(t, err, "the kitchen's failures never reached its dead letters")

	res := runHive(t, env, "", "dead", "list", sub)
	require.Equal(t, 0, res.code)
	assert.Regexp(t, `(?m)^junk-1 +order.placed .*failed 3 times: the oven is cold$`, res.stdout)
	assert.Regexp(t, `(?m)^good-1 +order.placed .*failed 3 times: the oven is cold$`, res.stdout)

	res = runHive(t, env, "", "dead", "show", sub, "good-1")
	require.Equal(t, 0, res.code)
	assert.Contains(t, res.stdout, `"reason": "failed 3 times: the oven is cold"`)
	assert.Contains(t, res.stdout, `"trace_id": "t-good"`)

	res = runHive(t, env, "", "dead", "purge", sub, "junk-1")
	require.Equal(t, 0, res.code)
	assert.Equal(t, "purged 1 dead letters of kitchen.order.placed\n", res.stdout)

	mended.Store(true)
	res = runHive(t, env, "", "dead", "replay", sub)
	require.Equal(t, 0, res.code)
	assert.Equal(t, "replayed 1 dead letters of kitchen.order.placed into its queue\n", res.stdout)
	select {
	case e := <-cooked:
		assert.Equal(t, "o-7", e.Body.OrderID, "the replayed order")
		assert.Equal(t, "t-good", e.TraceID, "the replayed event lost its trace id")
	case <-time.After(20 * time.Second):
		t.Fatal("the replayed order was not cooked within 20s")
	}

	res = runHive(t, env, "", "dead", "list", sub)
	require.Equal(t, 0, res.code)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "kitchen.order.placed has no dead letters.")

	res = runHive(t, env, "", "dead", "show", sub, "junk-1")
	assert.Equal(t, 1, res.code, "showing a purged dead letter")
	assert.Contains(t, res.stderr, "no dead letter has that ID")
	res = runHive(t, env, "", "dead", "list", "kitchen")
	assert.Equal(t, 2, res.code, "a subscription without a queue name")
	assert.Contains(t, res.stderr, "want SERVICE.QUEUE, such as kitchen.order.placed")
}
