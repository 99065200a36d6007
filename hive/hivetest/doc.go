// Package hivetest helps test hive services.
//
// Network runs services in one test process on the in-memory registry and
// event bus, or on real brokers. RabbitMQ and ZooKeeper find a broker for
// tests that are about brokers, and Namespace keeps tests apart from each
// other on shared brokers.
package hivetest
