package rabbitmq_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// TestPublishesInFlightEndWhenTheSessionDies closes a session's connection
// while messages are waiting for their confirms. Every publish must end,
// either confirmed or with errLost (which Bus.Publish answers by sending
// again), and none may wait for a confirm that will never come.
func TestPublishesInFlightEndWhenTheSessionDies(t *testing.T) {
	t.Parallel()
	url, ns := brokertest.RabbitMQ(t), hivetest.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := newBus(t, url, ns)
	s := events.Subscription{Service: "kitchen", Name: "orders", Pattern: "order.placed"}
	stop, err := b.Subscribe(ctx, s, func(context.Context, events.Event) error { return nil })
	require.NoError(t, err, "subscribing failed")
	stop()

	publish, closeConn := b.Session()
	const n = 200
	results := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			results <- publish(ctx, "order.placed", []byte(`{}`))
		})
	}
	// Close as soon as the first confirm came, while the rest are on the way.
	first := <-results
	require.NoError(t, first, "the first publish failed")
	require.NoError(t, closeConn(), "closing the connection failed")

	all := make(chan struct{})
	go func() {
		wg.Wait()
		close(all)
	}()
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatal("publishes still wait for their confirms, 20s after the connection closed")
	}
	close(results)
	confirmed, lost := 1, 0
	for err := range results {
		switch {
		case err == nil:
			confirmed++
		case errors.Is(err, rabbitmq.ErrLost):
			lost++
		default:
			t.Errorf("a publish failed with %v; want nil, or errLost", err)
		}
	}
	t.Logf("%d confirmed, %d lost when the connection closed", confirmed, lost)

	err = publish(ctx, "order.placed", []byte(`{}`))
	assert.ErrorIs(t, err, rabbitmq.ErrLost, "a publish on a dead session should fail at once with errLost")
}

func TestAttemptOf(t *testing.T) {
	for _, tt := range []struct {
		header any
		want   int
	}{
		{nil, 1},
		{int32(2), 2},
		{int64(3), 3},
		{int32(-7), 1},
		{int64(-1 << 62), 1},
		{int64(1 << 62), 5},
		{uint8(0), 1},
		{"3", 1},
		{3.0, 1},
	} {
		headers := amqp.Table{}
		if tt.header != nil {
			headers[rabbitmq.AttemptHeader] = tt.header
		}
		assert.Equal(t, tt.want, rabbitmq.AttemptOf(headers, 5), "attempt header %#v", tt.header)
	}
}
