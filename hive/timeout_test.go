package hive_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// Each deadline of Config has a job of its own. Each test sets one of them
// to a long time and the others to a short one, and a handler reports how
// much time it got.
const (
	long  = 42 * time.Second
	short = time.Second
)

// assertGot checks that work given the long deadline got it: no more, and
// more than any default or the short one.
func assertGot(t *testing.T, left time.Duration, what string) {
	t.Helper()
	assert.LessOrEqual(t, left, long, what)
	assert.Greater(t, left, max(short, hive.DefaultCallTimeout, hive.DefaultServeTimeout, hive.DefaultEventTimeout), what)
}

func TestCallTimeoutIsTheDeadlineOfTheServicesOwnCalls(t *testing.T) {
	n := hivetest.NewNetwork(t)
	svc, left := clock()
	n.Start(svc)
	caller := hive.New("caller")
	cfg := n.Config()
	cfg.CallTimeout, cfg.ServeTimeout, cfg.EventTimeout = long, short, short
	n.StartWith(caller, cfg)

	require.NoError(t, caller.Call(context.Background(), "clock.left", nil, nil))
	assertGot(t, <-left, "a call without a deadline must bring the callee CallTimeout")
}

func TestServeTimeoutIsTheDeadlineOfCallsThatBringNone(t *testing.T) {
	n := hivetest.NewNetwork(t)
	cfg := n.Config()
	cfg.CallTimeout, cfg.ServeTimeout, cfg.EventTimeout = short, long, short
	svc, left := clock()
	n.StartWith(svc, cfg)

	res := postWith(t, svc.Endpoint(), "left", nil) // as curl calls: no Hive-Timeout
	require.Equal(t, http.StatusOK, res.StatusCode)
	assertGot(t, <-left, "a call without Hive-Timeout must get ServeTimeout")
}

func TestEventTimeoutIsTheDeadlineOfEventHandlers(t *testing.T) {
	n := hivetest.NewNetwork(t)
	got := make(chan time.Duration, 1)
	kitchen := hive.New("kitchen")
	hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[orderPlaced]) error {
		deadline, _ := ctx.Deadline()
		got <- time.Until(deadline)
		return nil
	})
	cfg := n.Config()
	cfg.CallTimeout, cfg.ServeTimeout, cfg.EventTimeout = short, short, long
	n.StartWith(kitchen, cfg)
	require.NoError(t, kitchen.Emit(context.Background(), "order.placed", orderPlaced{OrderID: "o-9"}))

	select {
	case left := <-got:
		assertGot(t, left, "an event handler must get EventTimeout")
	case <-time.After(patience):
		t.Fatal("the event was never handled")
	}
}
