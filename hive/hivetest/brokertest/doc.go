// Package brokertest helps test hive services on real brokers.
//
// NewNetwork, NewZooKeeperNetwork and NewRabbitMQNetwork give a
// hivetest.Network on a real ZooKeeper, RabbitMQ or both. RabbitMQ and
// ZooKeeper find a broker for a test: through the environment, on the
// local port that `make up` publishes, or in a container that
// testcontainers-go starts; otherwise the test skips, saying to run
// `make up` (or fails, under HIVE_REQUIRE_BROKERS=1).
//
// Proxy and CloseRabbitMQConnections break the connections to the brokers
// on purpose, to test what happens then; they take no *testing.T, so that
// the chaos harness of step 5 can use them too.
//
// It is a package apart from hivetest because it links the ZooKeeper,
// RabbitMQ and Docker clients, which a test of the in-memory Network does
// not need: step 1's first `make test` builds none of them.
package brokertest
