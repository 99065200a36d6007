package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// The calls in flight that hive node scales a service by are the sum of
// its instances' status in_flight.
func TestCallCounterSumsTheInstancesCallsInFlight(t *testing.T) {
	t.Parallel()
	n := hivetest.NewNetwork(t)
	release := make(chan struct{})
	for range 2 {
		svc := hive.New("menu")
		hive.Handle(svc, "slow", func(ctx context.Context, _ struct{}) (struct{}, error) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return struct{}{}, nil
		})
		n.Start(svc)
	}
	counter := callCounter{reg: n.Registry, client: n.Client()}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := counter.InFlight(ctx, "menu")
	require.NoError(t, err)
	assert.Equal(t, 0, got, "calls in flight before any call")

	done := make(chan error, 5)
	for range 5 {
		go func() { done <- n.Call(ctx, "menu.slow", struct{}{}, nil) }()
	}
	require.NoError(t, hivetest.Eventually(10*time.Second, func() error {
		got, err := counter.InFlight(ctx, "menu")
		if err == nil && got != 5 {
			err = fmt.Errorf("%d calls in flight over the two menus, want 5", got)
		}
		return err
	}))
	close(release)
	for range 5 {
		require.NoError(t, <-done)
	}
	got, err = counter.InFlight(ctx, "menu")
	require.NoError(t, err)
	assert.Equal(t, 0, got)

	got, err = counter.InFlight(ctx, "nobody")
	require.NoError(t, err, "a service without instances has no calls")
	assert.Equal(t, 0, got)
}
