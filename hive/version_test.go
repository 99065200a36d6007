package hive_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// A rolling deploy, on real ZooKeeper: menu 1.4.0 and 2.0.0 run side by
// side, and 2.0.0 answers get with a price in cents where 1.x gave euros
// as a string. A caller pinned to ^1 (per client, or per call) only ever
// reaches 1.x; one pinned to ^2 only 2.x; a range that no instance runs
// fails Unavailable, naming the versions that do; and a record without a
// version serves only callers that ask for none.
func TestVersionRangesPickMatchingInstances(t *testing.T) {
	n := brokertest.NewZooKeeperNetwork(t)
	type price struct {
		V1 string `json:"price,omitempty"`       // 1.x: "4.50"
		V2 int    `json:"price_cents,omitempty"` // 2.x: 450
	}
	menu := func(version string, p price) *hive.Service {
		svc := hive.New("menu")
		svc.SetVersion(version)
		hive.Handle(svc, "get", func(ctx context.Context, _ struct{}) (price, error) { return p, nil })
		return svc
	}
	n.Start(menu("1.4.0", price{V1: "4.50"}))
	n.Start(menu("1.5.2", price{V1: "4.50"}))
	n.Start(menu("2.0.0", price{V2: 450}))

	pinned := hive.NewClient(n.Registry, hive.ClientOptions{Version: "^1", Logger: quiet})
	defer pinned.Close()
	ctx := context.Background()
	for range 12 { // the round robin goes over every instance several times
		var p price
		require.NoError(t, pinned.Call(ctx, "menu.get", nil, &p))
		assert.Equal(t, price{V1: "4.50"}, p, "a caller pinned to ^1 got an answer of menu 2")

		p = price{}
		require.NoError(t, pinned.Call(hive.WithVersion(ctx, "^2"), "menu.get", nil, &p))
		assert.Equal(t, price{V2: 450}, p, "a call for ^2 got an answer of menu 1")
	}

	err := pinned.Call(hive.WithVersion(ctx, "^3"), "menu.get", nil, nil)
	require.ErrorIs(t, err, hive.ErrUnavailable)
	assert.ErrorContains(t, err, "no instance of service menu runs a version in ^3: 3 run, of version 1.4.0 (1), 1.5.2 (1), 2.0.0 (1)")

	assert.ErrorContains(t, pinned.Call(hive.WithVersion(ctx, "^x"), "menu.get", nil, nil), `version range "^x"`)

	// A menu without a version serves callers that ask for none, and no
	// others.
	n.Start(menu("", price{V1: "unversioned"}))
	require.NoError(t, hivetest.Eventually(10*time.Second, func() error {
		var p price
		if err := n.Call(ctx, "menu.get", nil, &p); err != nil {
			return err
		}
		if p.V1 != "unversioned" {
			return errors.New("a caller that asks for no version has not reached the menu without one")
		}
		return nil
	}))
	for range 8 {
		var p price
		require.NoError(t, pinned.Call(ctx, "menu.get", nil, &p))
		assert.Equal(t, "4.50", p.V1, "a caller pinned to ^1 reached the menu without a version")
	}
}
