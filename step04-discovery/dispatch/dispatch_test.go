package main

import (
	"cmp"
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

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

	const deadline = 5 * time.Second
	timeout := time.After(deadline)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := kitchens(n)
		if err != nil {
			t.Fatalf("Task 1: %s, dispatch.kitchens failed: %v", what, err)
		}
		if slices.Equal(got, wantList) {
			return
		}
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("Task 1: %s, dispatch.kitchens should list %s within %v, but it lists %s. "+
				"Does roster.follow watch the kitchens, and set the roster to every list that arrives?",
				what, show(wantList), deadline, show(got))
		}
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

// start starts svc on n, like n.Start, but logs only info lines and above:
// the test asks dispatch many times while it waits, and a debug line for
// every call would bury the lines that matter when a test fails.
func start(n *hivetest.Network, svc *hive.Service) *hive.Service {
	cfg := n.Config()
	cfg.Logger = slog.New(slog.NewTextHandler(n.Logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return n.StartWith(svc, cfg)
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
	n := hivetest.NewBrokerNetwork(t) // real ZooKeeper
	start(n, New(n.Registry))
	waitForRoster(t, n, "before any kitchen started")

	k1 := start(n, kitchen())
	k2 := start(n, kitchen())
	waitForRoster(t, n, "after two kitchens started", k1, k2)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := k1.Stop(ctx); err != nil {
		t.Fatalf("stop a kitchen: %v", err)
	}
	waitForRoster(t, n, "after one of two kitchens stopped", k2)

	k3 := start(n, kitchen())
	waitForRoster(t, n, "after a third kitchen started", k2, k3)
}
