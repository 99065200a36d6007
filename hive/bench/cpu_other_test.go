//go:build !unix

package bench

import "time"

// processCPU cannot tell the CPU time of the process here; the benchmarks
// then report no cpu-µs/op.
func processCPU() (time.Duration, bool) { return 0, false }
