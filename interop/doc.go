// Package interop proves that a service written in another language, from
// the wire contract (PROTOCOL.md) alone, is a full member of a hive: its
// test runs the Python peer in python/pycounter.py next to Go services on
// the real brokers, and another holds the peer's matching of version
// ranges against hive's. The package has no code of its own, only tests.
package interop
