// Package protocol holds the JSON Schemas of the hive wire protocol,
// version 1, which PROTOCOL.md at the top of the repository describes:
//
//	registry-record.schema.json   the data of an instance's znode
//	error.schema.json             the body of a failed RPC answer
//	event.schema.json             the body of an event message
//
// Its tests hold the three together: every example in PROTOCOL.md must be
// accepted by hive's own types and by the schemas; the field tables of
// PROTOCOL.md, the schemas and hive's types must list the same fields; and
// what hive really writes to ZooKeeper, answers over HTTP and publishes to
// RabbitMQ must match them. A change to the wire format that PROTOCOL.md
// does not follow fails them.
package protocol
