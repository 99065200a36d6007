package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
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
	// hivetest.Eventually asks dispatch every 20ms until it lists the
	// kitchens want, or 5s have passed.
	err := hivetest.Eventually(5*time.Second, func() error {
		got, err := kitchens(n)
		if err != nil {
			return fmt.Errorf("dispatch.kitchens failed: %w", err)
		}
		if !slices.Equal(got, wantList) {
			return fmt.Errorf("dispatch.kitchens should list %s, but it lists %s", show(wantList), show(got))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Task 1: %s, within 5s %v. "+
			"Does roster.follow watch the kitchens, and set the roster to every list that arrives?", what, err)
	}
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
	n := brokertest.NewZooKeeperNetwork(t) // real ZooKeeper
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
