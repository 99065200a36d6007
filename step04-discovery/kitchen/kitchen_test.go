package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// report asks one kitchen instance whether it leads.
func report(n *hivetest.Network, k *hive.Service) (Report, error) {
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
	var leaders []*hive.Service
	err := hivetest.Eventually(deadline, func() error {
		leaders = nil
		for _, k := range kitchens {
			r, err := report(n, k)
			if err != nil {
				return fmt.Errorf("kitchen.report on %s failed: %w", k.ID(), err)
			}
			if r.Leader {
				leaders = append(leaders, k)
			}
		}
		if len(leaders) != 1 {
			return fmt.Errorf("exactly one kitchen should lead, but %d do", len(leaders))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Task 4: %s, no single kitchen led within %v: %v. "+
			"Does campaign call c.Campaign, and set k.leading once it returns nil? (It needs tasks 2 and 3 done.)", what, deadline, err)
	}
	return leaders[0]
}

func TestTask4_OneKitchenPrintsTheDailyReport(t *testing.T) {
	// A real ZooKeeper, in a namespace of the test's own, which the
	// network deletes, election and all, when the test ends.
	n := brokertest.NewZooKeeperNetwork(t)
	k1 := n.Start(New(brokertest.ZooKeeper(t), n.Namespace))
	k2 := n.Start(New(brokertest.ZooKeeper(t), n.Namespace))

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
	err := hivetest.Eventually(deadline, func() error {
		if got := strings.Count(n.Logs.String(), reportLine); got != count {
			return fmt.Errorf("they logged it %d times", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Task 4: the kitchens did not log the daily report %d times within %v: %v. Each kitchen that becomes the leader should log %q once.", count, deadline, err, reportLine)
	}
}
