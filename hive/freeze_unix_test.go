//go:build unix

package hive_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

// freezeChildEnv, set in a child process, makes TestFreezeChild run: its
// value is the ZooKeeper namespace to register in.
const freezeChildEnv = "HIVE_TEST_FREEZE_CHILD"

// A frozen instance (stopped with SIGSTOP, stuck in a loop or in a long
// pause) is still in the registry until its ZooKeeper session expires, and
// every call it gets waits. One of two real instances, in a process of its
// own, is frozen; then 12 idempotent gets and 12 puts are made, one after
// the other, each with a deadline of 2s.
//
// A get must never fail: it leaves the frozen instance after half its
// deadline, for the other. A put may fail, with Timeout, since it may have
// been done; but the put after it must go to the instance that answers.
func TestFrozenInstanceHoldsNoCallForTheWholeDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("takes several seconds")
	}
	n := brokertest.NewZooKeeperNetwork(t)
	var gets, puts atomic.Int64
	n.Start(counter(&gets, &puts))
	child := startFreezeChild(t, n)
	require.NoError(t, child.Process.Signal(syscall.SIGSTOP))

	getRun := measure(n.Registry, "counter.get", 12)
	putRun := measure(n.Registry, "counter.put", 12)
	t.Logf("with one of two instances frozen, deadline 2s:\n  get: %v\n  put: %v", getRun, putRun)

	list, err := n.Registry.Instances(context.Background(), "counter")
	require.NoError(t, err)
	require.Len(t, list, 2, "the frozen instance left the registry during the test: its session expired, and the figures above are not about a frozen instance")

	assert.Zero(t, getRun.failed, "an idempotent call must be tried on the other instance in time: %v", getRun.errs)
	for i, err := range putRun.errs {
		if err == nil {
			continue
		}
		assert.ErrorIs(t, err, hive.ErrTimeout, "put %d: a frozen instance must read as a timeout", i+1)
		if i+1 < len(putRun.errs) {
			assert.NoError(t, putRun.errs[i+1], "put %d: the instance that did not answer put %d must sit out", i+2, i+1)
		}
	}
	assert.Equal(t, int64(len(putRun.errs)-putRun.failed), puts.Load(), "every put that succeeded must have been done once, and no failed one retried")
}

// A run is what a series of calls, one after the other, came to.
type run struct {
	calls, failed int
	slowest       time.Duration
	errs          []error // per call; nil for a success
}

func (r run) String() string {
	return fmt.Sprintf("%d of %d calls failed (%.0f%%), the slowest took %v",
		r.failed, r.calls, 100*float64(r.failed)/float64(r.calls), r.slowest.Round(10*time.Millisecond))
}

// measure makes calls of method, one after the other, each with a
// deadline of 2s, through a client of its own (a picker that knows
// nothing yet).
func measure(reg registry.Registry, method string, calls int) run {
	client := hive.NewClient(reg, hive.ClientOptions{Logger: quiet})
	defer client.Close()
	r := run{calls: calls}
	for range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		start := time.Now()
		err := client.Call(ctx, method, nil, nil)
		r.slowest = max(r.slowest, time.Since(start))
		cancel()
		if err != nil {
			r.failed++
		}
		r.errs = append(r.errs, err)
	}
	return r
}

// startFreezeChild starts a second instance of counter in a child process,
// this test binary run again, and waits until it is registered. The child
// ends when the test does.
func startFreezeChild(t *testing.T, n *hivetest.Network) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	watch, err := n.Registry.Watch(ctx, "counter")
	require.NoError(t, err)

	cmd := exec.Command(os.Args[0], "-test.run=^TestFreezeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), freezeChildEnv+"="+n.Namespace)
	stdin, err := cmd.StdinPipe() // the child ends when it closes
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = n.Logs, n.Logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill() // a stopped process cannot end by itself
		stdin.Close()
		cmd.Wait()
	})

	for list := range watch {
		if len(list) == 2 {
			return cmd
		}
	}
	t.Fatalf("the child instance did not register within a minute: %v", ctx.Err())
	return nil
}

// TestFreezeChild is not a test of its own: it is the instance that
// TestFrozenInstanceHoldsNoCallForTheWholeDeadline runs in a child process,
// to freeze it. Its ZooKeeper session lasts 40s (the servers' default
// maximum), so that the frozen instance stays registered while the test
// measures.
func TestFreezeChild(t *testing.T) {
	namespace := os.Getenv(freezeChildEnv)
	if namespace == "" {
		return
	}
	ctx := context.Background()
	reg, err := zookeeper.New(ctx, brokertest.ZooKeeper(t), zookeeper.Options{Namespace: namespace, Logger: quiet, SessionTimeout: 40 * time.Second})
	require.NoError(t, err)
	defer reg.Close()
	var gets, puts atomic.Int64
	svc := counter(&gets, &puts)
	require.NoError(t, svc.Start(ctx, hive.Config{Registry: reg, Logger: quiet}))
	defer svc.Stop(ctx)
	io.Copy(io.Discard, os.Stdin) // until the test closes it, or ends
}
