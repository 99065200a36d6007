package bench

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// quiet is the logger of every service and bus in these benchmarks. A
// service in production logs at info level, so its debug lines (one per
// call) cost only a check; a discarding logger costs the same check.
var quiet = slog.New(slog.DiscardHandler)

// concurrently makes b.N calls of op from conc goroutines at once, each
// taking the next call until all are taken, and returns how long each call
// took. It leaves the benchmark's timer alone.
func concurrently(b *testing.B, conc int, op func() error) []time.Duration {
	var taken atomic.Int64
	took := make([][]time.Duration, conc) // per goroutine, so no lock is needed
	var wg sync.WaitGroup
	for g := range conc {
		took[g] = make([]time.Duration, 0, b.N/conc+1)
		wg.Go(func() {
			for taken.Add(1) <= int64(b.N) {
				start := time.Now()
				if err := op(); err != nil {
					b.Error(err)
					return
				}
				took[g] = append(took[g], time.Since(start))
			}
		})
	}
	wg.Wait()
	return slices.Concat(took...)
}

// warmUp makes conc calls of op at once, so that the connections a run
// needs are open before the timer starts.
func warmUp(b *testing.B, conc int, op func() error) {
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			if err := op(); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

// measureCPU starts measuring the CPU time the whole process spends: both
// sides of the benchmark, the caller and the service, or the publisher and
// the subscriber, but not the broker. The function it returns reports it
// per op, as cpu-µs/op. Unlike the wall-clock figures, it changes little
// when other programs compete for the machine's cores.
func measureCPU(b *testing.B) (report func()) {
	start, ok := processCPU()
	return func() {
		end, _ := processCPU()
		if ok {
			b.ReportMetric(float64(end-start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
		}
	}
}

// reportRate reports how many ops per second the timed part of the run did,
// as "<unit>/s".
func reportRate(b *testing.B, unit string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit+"/s")
}

// reportPercentiles reports the 50th and 99th percentile of took as
// p50-<name> and p99-<name>, counted in units of unit: for example
// (time.Microsecond, "µs").
func reportPercentiles(b *testing.B, took []time.Duration, unit time.Duration, name string) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	for _, p := range []int{50, 99} {
		d := took[len(took)*p/100]
		b.ReportMetric(float64(d)/float64(unit), fmt.Sprintf("p%d-%s", p, name))
	}
}
