package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// start starts svc on n, like n.Start, but logs only info lines and above:
// the test asks the kitchens many times while it waits, and a debug line
// for every call would bury the lines that matter when a test fails.
func start(n *hivetest.Network, svc *hive.Service) *hive.Service {
	cfg := n.Config()
	cfg.Logger = slog.New(slog.NewTextHandler(n.Logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return n.StartWith(svc, cfg)
}

// report asks one kitchen instance whether it leads.
func report(t *testing.T, n *hivetest.Network, k *hive.Service) (Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	inst := registry.Instance{ID: k.ID(), Service: "kitchen", Endpoint: k.Endpoint()}
	var r Report
	err := n.Client().CallInstance(ctx, inst, "report", nil, &r)
	return r, err
}

// waitForLeader waits until exactly one of kitchens says that it leads, and
// returns it.
func waitForLeader(t *testing.T, n *hivetest.Network, what string, kitchens ...*hive.Service) *hive.Service {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for {
		var leaders []*hive.Service
		for _, k := range kitchens {
			r, err := report(t, n, k)
			if err != nil {
				t.Fatalf("Task 4: %s, kitchen.report on %s failed: %v", what, k.ID(), err)
			}
			if r.Leader {
				leaders = append(leaders, k)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("Task 4: %s, exactly one kitchen should lead within %v, but %d do. "+
				"Does campaign call c.Campaign, and set k.leading once it returns nil? (It needs tasks 2 and 3 done.)", what, deadline, len(leaders))
		}
	}
}

func TestTask4_OneKitchenPrintsTheDailyReport(t *testing.T) {
	admin := zkConn(t)
	n := hivetest.NewBrokerNetwork(t) // real ZooKeeper and RabbitMQ, in a namespace of the test's own
	t.Cleanup(func() {
		// Runs after the kitchens stopped: remove what is left of their election.
		if err := deleteTree(admin, "/"+n.Namespace+"/elections"); err != nil {
			t.Logf("clean up the election: %v", err)
		}
	})
	k1 := start(n, New(hivetest.ZooKeeper(t), n.Namespace))
	k2 := start(n, New(hivetest.ZooKeeper(t), n.Namespace))

	leader := waitForLeader(t, n, "with two kitchens running", k1, k2)
	waitForReports(t, n, 1)

	// The leader stops. It leaves the line as it goes, so the other
	// kitchen takes over at once.
	next := k2
	if leader == k2 {
		next = k1
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := leader.Stop(ctx); err != nil {
		t.Fatalf("stop the leading kitchen: %v", err)
	}
	waitForLeader(t, n, "after the leading kitchen stopped", next)
	waitForReports(t, n, 2)
}

// reportLine is what a kitchen logs when it becomes the leader.
const reportLine = "I am the leader: printing the daily report"

// waitForReports waits until the kitchens have logged reportLine count
// times in all.
func waitForReports(t *testing.T, n *hivetest.Network, count int) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for {
		got := strings.Count(n.Logs.String(), reportLine)
		if got == count {
			return
		}
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("Task 4: each kitchen that becomes the leader should log %q once; the kitchens logged it %d times, want %d", reportLine, got, count)
		}
	}
}
