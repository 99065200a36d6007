//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// hive node starts the instances of hive.yml, starts one again when it is
// killed, and stops them all, gracefully, on Ctrl-C.
func TestNode(t *testing.T) {
	t.Parallel()
	n := brokertest.NewNetwork(t)
	path := filepath.Join(t.TempDir(), "hive.yml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `
services:
  menu:
    command: [%q]   # this test binary, which runs the menu service (see TestMain)
    instances: 2
    env: {%s: menu}
`, os.Args[0], serviceEnv), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates, err := n.Registry.Watch(ctx, "menu")
	require.NoError(t, err)

	beehive := startHive(t, brokerEnv(t, n), "node", "-c", path)
	first := waitForInstances(t, updates, func(list []registry.Instance) bool { return len(list) == 2 })
	beehive.stdout.waitFor(t, "menu.0 | ")
	beehive.stdout.waitFor(t, "menu.1 | ")
	pids := []int{first[0].PID, first[1].PID}

	// Kill a bee: it comes back as a new process.
	require.NoError(t, syscall.Kill(pids[0], syscall.SIGKILL))
	now := waitForInstances(t, updates, func(list []registry.Instance) bool {
		return slices.ContainsFunc(list, func(i registry.Instance) bool { return !slices.Contains(pids, i.PID) })
	})
	beehive.stderr.waitFor(t, "instance died; starting it again")
	for _, inst := range now {
		if !slices.Contains(pids, inst.PID) {
			pids = append(pids, inst.PID)
		}
	}

	// hive scale: a third bee comes; then two go to sleep, gracefully
	// (they deregister), and the node does not start them again.
	env := brokerEnv(t, n)
	got := runHive(t, env, "", "scale", "menu", "3")
	require.Equal(t, 0, got.code, got.stderr)
	assert.Equal(t, "menu: 2 bees → 3\n", got.stdout)
	three := waitForInstances(t, updates, func(list []registry.Instance) bool { return len(list) == 3 })
	got = runHive(t, env, "", "scale", "menu", "1")
	require.Equal(t, 0, got.code, got.stderr)
	one := waitForInstances(t, updates, func(list []registry.Instance) bool { return len(list) == 1 })
	beehive.stderr.waitFor(t, "menu: 3 bees → 1, by hand")
	assert.Contains(t, pids, one[0].PID, "the oldest bee, menu.0, was put to sleep")
	for _, inst := range three {
		if !slices.Contains(pids, inst.PID) {
			pids = append(pids, inst.PID)
		}
	}
	got = runHive(t, env, "", "scale", "wasp", "1")
	assert.Equal(t, 1, got.code)
	assert.Contains(t, got.stderr, `no service is called "wasp"`)

	// Ctrl-C: every instance deregisters (which only a graceful stop does)
	// and ends.
	assert.Equal(t, 0, beehive.interrupt(t))
	assert.Equal(t, 1, strings.Count(beehive.stderr.String(), "instance died"), "a bee put to sleep was taken for dead")
	assert.Contains(t, beehive.stderr.String(), "Stopping every instance: SIGTERM now")
	waitForInstances(t, updates, func(list []registry.Instance) bool {
		return !slices.ContainsFunc(list, func(i registry.Instance) bool { return i.PID != pids[0] })
	})
	for _, pid := range pids {
		assert.Eventually(t, func() bool { return syscall.Kill(pid, 0) != nil }, 5*time.Second, 10*time.Millisecond, "process %d still runs", pid)
	}
}
