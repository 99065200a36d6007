// Package hivetest helps test hive services.
//
// Network runs services in one test process on the in-memory registry and
// event bus: no brokers, no Docker, and fast. Namespace keeps tests apart
// from each other on shared brokers. Eventually waits for what happens
// elsewhere, without sleeping for a guessed time.
//
// Tests that are about the brokers themselves use the subpackage
// brokertest, which puts a Network on a real ZooKeeper and RabbitMQ. It
// lives apart so that a test of the in-memory Network builds without the
// ZooKeeper, RabbitMQ and Docker clients.
package hivetest
