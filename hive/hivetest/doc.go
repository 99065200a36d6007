// Package hivetest helps test hive services.
//
// Network runs services in one test process on the in-memory registry and
// event bus, or on real brokers. RabbitMQ and ZooKeeper find a broker for
// tests that are about brokers, and Namespace keeps tests apart from each
// other on shared brokers. Eventually waits for what happens elsewhere,
// without sleeping for a guessed time. Proxy and CloseRabbitMQConnections
// break the connections to the brokers on purpose, to test what happens
// then; they take no *testing.T, so that the chaos harness of step 5 can
// use them too.
package hivetest
