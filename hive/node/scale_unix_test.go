//go:build unix

package node

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Scale starts bees at once, and puts the youngest to sleep with SIGTERM,
// for good: the node does not start them again.
func TestScaleStartsBeesAndPutsTheYoungestToSleep(t *testing.T) {
	cfg := testConfig(1, nil)
	cfg.Services[0].Scale = &Scale{Min: 1, Max: 4}
	h := startNode(t, cfg, Options{})
	h.waitForLines(t, "ready", 1)

	from, err := h.node.Scale("bee", 3)
	require.NoError(t, err)
	assert.Equal(t, 1, from)
	h.waitForLines(t, "ready", 3)
	assert.Contains(t, h.out.String(), "bee.2 | ready index=2")
	assert.Contains(t, h.log.String(), "bee: 1 bee → 3, by hand")
	oldest := h.node.Instances()[0].PID

	_, err = h.node.Scale("bee", 1)
	require.NoError(t, err)
	h.waitForLines(t, "got SIGTERM", 2)
	h.waitFor(t, "one instance left", func() bool { return len(h.node.Instances()) == 1 })
	assert.Contains(t, h.out.String(), "bee.1 | got SIGTERM")
	assert.Contains(t, h.out.String(), "bee.2 | got SIGTERM")
	assert.NotContains(t, h.out.String(), "bee.0 | got SIGTERM", "the oldest bee was put to sleep")
	inst := h.node.Instances()[0]
	assert.Equal(t, oldest, inst.PID)
	assert.Equal(t, Running, inst.State)
	assert.Equal(t, 3, strings.Count(h.out.String(), "ready"), "a bee put to sleep was started again")

	// Up again: the free indexes are taken first.
	_, err = h.node.Scale("bee", 2)
	require.NoError(t, err)
	h.waitForLines(t, "bee.1 | ready", 2)
}

func TestScaleSaysWhatIsWrong(t *testing.T) {
	cfg := testConfig(1, nil)
	cfg.Services[0].Scale = &Scale{Min: 1, Max: 4}
	h := startNode(t, cfg, Options{})
	for _, tc := range []struct {
		service string
		count   int
		want    string
	}{
		{"bees", 2, `no service is called "bees"; the services are [bee]`},
		{"bee", 5, "bee runs between 1 and 4 instances (hive.yml's min and max), not 5"},
		{"bee", 0, "not 0"},
	} {
		_, err := h.node.Scale(tc.service, tc.count)
		if assert.Error(t, err) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
	h.stop(t)
	_, err := h.node.Scale("bee", 2)
	assert.ErrorContains(t, err, "not running")
}

// `hive scale` reaches the node through its control socket.
func TestScaleOverTheControlSocket(t *testing.T) {
	h := startNode(t, testConfig(1, nil), Options{})
	h.waitForLines(t, "ready", 1)
	path := filepath.Join(t.TempDir(), "node.sock")
	l, err := Listen(path)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- h.node.ServeControl(ctx, l) }()

	answer, err := SendScale(ctx, path, "bee", 2)
	require.NoError(t, err)
	assert.Equal(t, "bee: 1 bee → 2", answer)
	h.waitForLines(t, "ready", 2)

	_, err = SendScale(ctx, path, "wasp", 2)
	assert.ErrorContains(t, err, `no service is called "wasp"`)

	_, err = Listen(path)
	assert.ErrorContains(t, err, "another node already takes commands on "+path)

	cancel()
	require.NoError(t, <-served)
	_, err = SendScale(context.Background(), path, "bee", 1)
	assert.ErrorContains(t, err, "no node takes commands on "+path)
	l, err = Listen(path) // the socket file is stale now
	require.NoError(t, err)
	l.Close()
}

// A service that answers calls scales by its calls in flight.
func TestScaleByCallsInFlight(t *testing.T) {
	cfg := testConfig(1, nil)
	cfg.Services[0].Scale = &Scale{Min: 1, Max: 4, InFlight: 4, CoolDown: 300 * time.Millisecond}
	calls := &fakeCalls{}
	h := startNode(t, cfg, Options{Calls: calls, ScaleEvery: 20 * time.Millisecond})
	h.waitForLines(t, "ready", 1)

	calls.set(9) // 3 bees' worth, at 4 each
	h.waitForLines(t, "ready", 3)
	assert.Contains(t, h.log.String(), "bee: 9 calls in flight, 1 bee → 3")
	calls.set(0)
	h.waitFor(t, "one bee again", func() bool { return len(h.node.Instances()) == 1 })
	assert.Contains(t, h.log.String(), "bee: 0 calls in flight, 3 bees → 1")
}

// fakeCalls is a CallCounter that says what the test sets.
type fakeCalls struct {
	mu sync.Mutex
	n  int
}

func (f *fakeCalls) set(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n = n
}

func (f *fakeCalls) InFlight(_ context.Context, service string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if service != "bee" {
		return 0, fmt.Errorf("no service %q", service)
	}
	return f.n, nil
}
