package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// The observer asks an instance at most once an interval, however many
// pages come and go (a reload is a viewer who leaves and comes back), and
// not at all while nobody looks.
func TestObserverAsksEachInstanceAtMostOnceAnInterval(t *testing.T) {
	n := hivetest.NewNetwork(t)
	n.Start(newMenu(nil))
	const interval = 50 * time.Millisecond
	o := newObserver(n.Namespace, n.Registry, n.Client(), nil, interval)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go o.run(ctx)

	calls := func() int64 {
		var s hive.Status
		require.NoError(t, n.Call(ctx, "menu.status", nil, &s))
		return s.Calls
	}
	before := calls()
	time.Sleep(5 * interval) // nobody looks: no call may come in the meantime
	assert.Equal(t, before, calls()-1, "the observer asked an instance while no page was open")

	began := time.Now()
	before = calls()
	for range 40 { // pages that come and go, faster than the interval
		done := o.look()
		time.Sleep(interval / 4)
		done()
	}
	done := o.look()
	err := hivetest.Eventually(5*time.Second, func() error {
		if len(o.picture().Services) == 0 {
			return assert.AnError
		}
		return nil
	})
	require.NoError(t, err, "the picture never showed the menu")
	done()
	elapsed := time.Since(began)
	// Our own calls: this one; the observer's: at most one a poll, plus one
	// inspect of the menu.
	asked := calls() - before - 1
	assert.LessOrEqual(t, asked, int64(elapsed/interval)+1+1, "the observer asked the instance %d times in %v", asked, elapsed)
	assert.Positive(t, asked, "the observer never asked")
}
