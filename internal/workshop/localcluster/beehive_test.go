package localcluster_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/internal/workshop/localcluster"
	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/chaos"
)

// TestBeehiveSurvivesBrokerNodesDying runs step 5's beehive, with quorum
// queues, on a cluster of its own (3 RabbitMQ nodes, 3 ZooKeeper nodes),
// and under load kills the ZooKeeper leader and a RabbitMQ node that bees
// are connected to. No order may be lost or doubled.
func TestBeehiveSurvivesBrokerNodesDying(t *testing.T) {
	c := localcluster.ForTest(t, 28800)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	started := time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("the cluster serves in %v", time.Since(started).Round(time.Second))

	ns := hivetest.Namespace(t)
	bee, err := chaos.BuildBee(ctx, "github.com/hive-workshop/microservices-go/solutions/step05-beehive/cmd/bee", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	output := &hivetest.Logs{}
	b, err := chaos.StartBeehive(ctx, chaos.BeehiveOptions{
		Bee: bee, Namespace: ns,
		ZooKeeper: c.ZooKeeperAddrs(), AMQPURL: strings.Join(c.AMQPURLs(), ","), QueueType: rabbitmq.Quorum,
		Menus: 2, Orders: 2, Kitchens: 2,
		Env:    map[string]string{"KITCHEN_COOK_TIME": "100ms"},
		Output: output,
	})
	if err != nil {
		t.Log(output.String())
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b.Close(ctx)
	})

	report, err := chaos.Run(ctx, b.Target(), chaos.Options{
		Rate:     5,
		Duration: 20 * time.Second,
		Incidents: []chaos.Incident{
			{At: 4 * time.Second, Name: "kill the ZooKeeper leader", Do: func(ctx context.Context) (string, error) {
				leader := c.ZooKeeperLeader(ctx)
				if leader == 0 {
					return "", fmt.Errorf("no ZooKeeper node leads")
				}
				return fmt.Sprintf("ZooKeeper node %d, the leader, killed", leader), c.StopZooKeeper(leader, true)
			}},
			{At: 10 * time.Second, Name: "kill a RabbitMQ node with bees on it", Do: func(ctx context.Context) (string, error) {
				for ask := 1; ask <= localcluster.Size; ask++ {
					if node, err := c.ConnectedTo(ctx, ask, ns); err == nil {
						return fmt.Sprintf("RabbitMQ node %d killed", node), c.StopRabbitMQ(node, true)
					}
				}
				return "", fmt.Errorf("no RabbitMQ node holds a connection of the beehive")
			}},
		},
		Settle:   30 * time.Second,
		Progress: logWriter{t},
	})
	if err != nil {
		t.Log(output.String())
		t.Fatal(err)
	}
	var summary bytes.Buffer
	report.Print(&summary)
	t.Log(summary.String())
	for _, inc := range report.Incidents {
		if inc.Err != nil {
			t.Errorf("an incident went wrong: %s: %v", inc.What, inc.Err)
		}
	}
	if !report.OK() {
		t.Errorf("on the cluster, the beehive lost or doubled orders:\n  %s", strings.Join(report.Problems(), "\n  "))
		path := filepath.Join(os.TempDir(), t.Name()+".log")
		if err := os.WriteFile(path, []byte(output.String()), 0o644); err == nil {
			t.Logf("the bees' output is in %s", path)
		}
	}
}

// logWriter writes each line to the test's log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
