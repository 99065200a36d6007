package brokertest

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

// NewNetwork returns a hivetest.Network on real brokers, ZooKeeper and
// RabbitMQ (found as ZooKeeper and RabbitMQ find them), in a namespace of
// its own. It skips the test if a broker is missing.
func NewNetwork(t testing.TB) *hivetest.Network {
	t.Helper()
	n := NewRabbitMQNetwork(t)
	useZooKeeper(t, n)
	return n
}

// NewZooKeeperNetwork returns a network on a real ZooKeeper (found as
// ZooKeeper finds it) and the in-memory event bus, for tests that are
// about discovery only. It skips the test if ZooKeeper is missing.
func NewZooKeeperNetwork(t testing.TB) *hivetest.Network {
	t.Helper()
	n := hivetest.NewNetwork(t)
	useZooKeeper(t, n)
	return n
}

// NewRabbitMQNetwork returns a network on a real RabbitMQ (found as RabbitMQ
// finds it) and the in-memory registry, for tests that are about events
// only. It skips the test if RabbitMQ is missing.
func NewRabbitMQNetwork(t testing.TB) *hivetest.Network {
	t.Helper()
	amqpURL := RabbitMQ(t)
	n := hivetest.NewNetwork(t)
	bus := connectBus(t, amqpURL, n)
	n.Bus.Close()
	n.Bus = bus // the network closes it when the test ends
	deleteWhenDone(t, "RabbitMQ", n.Namespace, bus.DeleteNamespace)
	return n
}

// RabbitMQBehindProxy returns a second event bus for a network made by
// NewRabbitMQNetwork or NewNetwork, in n's namespace, that reaches
// RabbitMQ through a Proxy, and the proxy. Give the bus to one service
// (n.StartWith, with Config.Bus set): cutting the proxy takes RabbitMQ
// away from that service alone, as an outage would, while the others,
// and every other test, keep theirs. The bus closes when the test ends.
func RabbitMQBehindProxy(t testing.TB, n *hivetest.Network) (*rabbitmq.Bus, *Proxy) {
	t.Helper()
	amqpURL := RabbitMQ(t)
	proxy, err := NewProxy(AMQPHost(amqpURL))
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	t.Cleanup(proxy.Close)
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	u.Host = proxy.Addr()
	bus := connectBus(t, u.String(), n)
	t.Cleanup(func() { bus.Close() })
	return bus, proxy
}

// connectBus connects a bus to amqpURL in n's namespace, with hivetest's
// fast retries.
func connectBus(t testing.TB, amqpURL string, n *hivetest.Network) *rabbitmq.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bus, err := rabbitmq.New(ctx, amqpURL, rabbitmq.Options{Namespace: n.Namespace, Logger: n.Config().Logger, MaxAttempts: hivetest.MaxAttempts, RetryDelay: hivetest.RetryDelay})
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	return bus
}

// useZooKeeper replaces n's registry with one on ZooKeeper, in n's
// namespace, and deletes the namespace's tree when the test ends.
func useZooKeeper(t testing.TB, n *hivetest.Network) {
	t.Helper()
	servers := ZooKeeper(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg, err := zookeeper.New(ctx, servers, zookeeper.Options{Namespace: n.Namespace, Logger: n.Config().Logger})
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	n.Registry.Close()
	n.Registry = reg // the network closes it when the test ends
	deleteWhenDone(t, "ZooKeeper", n.Namespace, reg.DeleteNamespace)
}

// deleteWhenDone deletes what the test left in namespace on broker when
// the test ends: its queues and exchange, or its znodes.
func deleteWhenDone(t testing.TB, broker, namespace string, deleteNamespace func(context.Context) error) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := deleteNamespace(ctx); err != nil {
			t.Logf("brokertest: clean up %s namespace %s: %v", broker, namespace, err)
		}
	})
}
