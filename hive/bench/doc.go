// Package bench holds no code, only benchmarks: they set hive against the
// raw libraries it is built on, doing the same work side by side in one
// run, so that the cost of the framework is a measured ratio rather than a
// guess.
//
//	BenchmarkRPC        hive RPC        vs net/http + encoding/json
//	BenchmarkEvents     hive events     vs amqp091-go, same guarantees
//	BenchmarkDiscovery  hive registry   vs go-zookeeper, register → seen
//
// Each benchmark has a sub-benchmark per implementation (impl=hive and the
// raw library's name), so benchstat can put them in columns:
//
//	make bench                                        # writes bench.out, compares
//	benchstat -filter .name:RPC -col /impl bench.out  # one comparison, by hand
//
// The wall-clock figures (ns/op, req/s, events/s, p50 and p99) swing when
// other programs compete for the cores. RPC and events also report
// cpu-µs/op, the CPU time of the process per op (both sides, not the
// broker), which swings much less.
//
// The events and discovery benchmarks need RabbitMQ and ZooKeeper (`make
// up`); without them they are skipped, as broker tests are.
package bench
