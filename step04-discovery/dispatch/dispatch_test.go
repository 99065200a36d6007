package main

import (
	"cmp"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// kitchen returns a stand-in kitchen: a service called "kitchen" is all
// that dispatch looks for. (Services never import each other's code, so
// the test does not start the real kitchen.)
func kitchen() *hive.Service { return hive.New("kitchen") }

// waitForRoster waits until dispatch.kitchens lists exactly the kitchens
// want, and fails the test if that takes longer than a few seconds.
func waitForRoster(t *testing.T, n *hivetest.Network, what string, want ...*hive.Service) {
	t.Helper()
	wantList := []Kitchen{}
	for _, k := range want {
		wantList = append(wantList, Kitchen{ID: k.ID(), Endpoint: k.Endpoint(), PID: os.Getpid()})
	}
	slices.SortFunc(wantList, func(a, b Kitchen) int { return cmp.Compare(a.ID, b.ID) })

	// The roster follows in a goroutine of its own, so the test waits:
	// require.EventuallyWithT runs its function every 50ms until a run
	// reports no error, or fails the test after 5s with the errors of the
	// last run.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got, err := kitchens(n)
		require.NoError(c, err, "Task 1: %s, dispatch.kitchens failed", what)
		if !slices.Equal(got, wantList) {
			c.Errorf("Task 1: %s, dispatch.kitchens should list %s, but it lists %s. "+
				"Does roster.follow watch the kitchens, and set the roster to every list that arrives?",
				what, show(wantList), show(got))
		}
	}, 5*time.Second, 50*time.Millisecond, "Task 1: %s, dispatch.kitchens did not list the kitchens on duty within 5s.", what)
}

// kitchens calls dispatch.kitchens.
func kitchens(n *hivetest.Network) ([]Kitchen, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var reply KitchensReply
	err := n.Call(ctx, "dispatch.kitchens", KitchensRequest{}, &reply)
	return reply.Kitchens, err
}

// show writes a list of kitchens for a failure message.
func show(ks []Kitchen) string {
	if len(ks) == 0 {
		return "no kitchen"
	}
	var s []string
	for _, k := range ks {
		s = append(s, k.ID+" at "+k.Endpoint)
	}
	return strings.Join(s, ", ")
}

func TestTask1_TheRosterFollowsTheKitchens(t *testing.T) {
	t.Parallel()
	n := hivetest.NewZooKeeperNetwork(t) // real ZooKeeper
	n.Start(New())
	waitForRoster(t, n, "before any kitchen started")

	k1 := n.Start(kitchen())
	k2 := n.Start(kitchen())
	waitForRoster(t, n, "after two kitchens started", k1, k2)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := k1.Stop(ctx); err != nil {
		t.Fatalf("stop a kitchen: %v", err)
	}
	waitForRoster(t, n, "after one of two kitchens stopped", k2)

	k3 := n.Start(kitchen())
	waitForRoster(t, n, "after a third kitchen started", k2, k3)
}
