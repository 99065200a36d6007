//go:build unix

package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The instances in these tests are real processes: the test binary itself,
// started again with NODE_TEST_BEE=1, plays a tiny service (see playBee).
func TestMain(m *testing.M) {
	switch os.Getenv("NODE_TEST_BEE") {
	case "1":
		playBee()
		return
	case "kitchen":
		playKitchen()
		return
	}
	os.Exit(m.Run())
}

// playBee is a stand-in for a service. It says "ready" once it listens for
// SIGTERM, and "got SIGTERM" when it stops. With BEE_IGNORE_TERM=1 it
// ignores SIGTERM, like a stuck service. With BEE_GO_RUN=1 it plays `go
// run`: it starts the real bee as its child and dies at once on SIGTERM.
func playBee() {
	if os.Getenv("BEE_GO_RUN") == "1" {
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), "BEE_GO_RUN=0")
		child.Stdout, child.Stderr = os.Stdout, os.Stderr // the child holds the node's pipe, as with go run
		if err := child.Start(); err != nil {
			fmt.Println("cannot start the child:", err)
			os.Exit(1)
		}
		fmt.Println("child", child.Process.Pid)
		child.Wait()
		return
	}
	term := make(chan os.Signal, 1)
	if os.Getenv("BEE_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(term, syscall.SIGTERM)
	}
	fmt.Printf("ready index=%s listen=%s greeting=%s\n", os.Getenv(EnvInstanceIndex), os.Getenv("HIVE_LISTEN"), os.Getenv("BEE_GREETING"))
	fmt.Fprintln(os.Stderr, "a line to stderr")
	<-term
	fmt.Println("got SIGTERM")
	fmt.Print("bye, without a newline")
}

func TestOutputIsPrefixed(t *testing.T) {
	t.Setenv("HIVE_LISTEN", "127.0.0.1:8001") // the node's own; instances must not share it
	h := startNode(t, testConfig(2, map[string]string{"BEE_GREETING": "hello"}), Options{})
	h.waitForLines(t, "ready", 2)
	h.stop(t)

	lines := strings.Split(strings.TrimSuffix(h.out.String(), "\n"), "\n")
	for i := range 2 {
		assert.Contains(t, lines, fmt.Sprintf("bee.%d | ready index=%d listen=127.0.0.1:0 greeting=hello", i, i))
		assert.Contains(t, lines, fmt.Sprintf("bee.%d | a line to stderr", i))
		assert.Contains(t, lines, fmt.Sprintf("bee.%d | bye, without a newline", i))
	}
	for _, line := range lines {
		assert.Regexp(t, `^bee\.[01] \| `, line)
	}
	assert.NotContains(t, h.out.String(), "\x1b[", "colours in output that is not a terminal")
}

func TestColorsWhenForced(t *testing.T) {
	h := startNode(t, testConfig(1, nil), Options{Color: ColorAlways})
	h.waitForLines(t, "ready", 1)
	assert.Contains(t, h.out.String(), "\x1b[36mbee.0 |\x1b[0m ready")
}

func TestKilledInstanceIsStartedAgain(t *testing.T) {
	h := startNode(t, testConfig(2, nil), Options{})
	h.waitForLines(t, "ready", 2)

	name, pid, err := h.node.KillRandom()
	require.NoError(t, err)
	index, _ := strconv.Atoi(strings.TrimPrefix(name, "bee."))
	h.waitForLines(t, "ready", 3)

	inst := h.node.Instances()[index]
	assert.Equal(t, Running, inst.State)
	assert.Equal(t, 1, inst.Restarts)
	assert.NotEqual(t, pid, inst.PID)
	assertGone(t, []int{pid})
	assert.Equal(t, 0, h.node.Instances()[1-index].Restarts, "the other instance was started again too")
}

// Signal reaches the one instance it names; the node starts it again when
// the signal ends it.
func TestSignalReachesOneInstance(t *testing.T) {
	h := startNode(t, testConfig(2, nil), Options{})
	h.waitForLines(t, "ready", 2)
	pid := h.node.Instances()[1].PID

	require.NoError(t, h.node.Signal("bee.1", syscall.SIGTERM))
	h.waitForLines(t, "bee.1 | got SIGTERM", 1)
	h.waitForLines(t, "ready", 3)
	assertGone(t, []int{pid})
	assert.Equal(t, 1, h.node.Instances()[1].Restarts)
	assert.Equal(t, 0, h.node.Instances()[0].Restarts, "the other instance was signalled too")
	assert.NotContains(t, h.out.String(), "bee.0 | got SIGTERM")
}

func TestSignalFailsWithoutARunningInstance(t *testing.T) {
	h := startNode(t, testConfig(1, nil), Options{})
	h.waitForLines(t, "ready", 1)

	err := h.node.Signal("bee.7", syscall.SIGTERM)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no instance is called "bee.7"`)

	h.stop(t)
	err = h.node.Signal("bee.0", syscall.SIGTERM)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bee.0 is stopped, not running")
}

// Chaos kills instances again and again; each one comes back, without the
// growing delay that an instance crashing by itself gets. It spares bees
// that have not run for one interval yet, so on a busy machine, where a
// bee takes longer than that to start, chaos still lets the hive come up.
func TestChaos(t *testing.T) {
	const interval = 50 * time.Millisecond
	h := startNode(t, testConfig(2, nil), Options{Chaos: interval})
	h.waitFor(t, "4 restarts", func() bool {
		restarts := 0
		for _, inst := range h.node.Instances() {
			restarts += inst.Restarts
		}
		return restarts >= 4
	})
	h.stop(t)

	died := regexp.MustCompile(`msg="instance died; starting it again".*`).FindAllString(h.log.String(), -1)
	require.GreaterOrEqual(t, len(died), 4, "the node's log:\n%s", h.log)
	for _, line := range died {
		assert.Contains(t, line, "restart_in="+minBackoff.String(), "a killed bee waited longer than a fresh one")
		ran := regexp.MustCompile(`ran=(\S+)`).FindStringSubmatch(line)
		require.NotNil(t, ran, line)
		d, err := time.ParseDuration(ran[1])
		require.NoError(t, err)
		assert.GreaterOrEqual(t, d, interval.Round(time.Millisecond), "chaos killed a bee that had run less than one interval: %s", line)
	}
}

// Stopping sends SIGTERM to the whole process group of each instance, so
// that the program behind `go run` gets it too, and leaves no process.
func TestStopSendsSIGTERMToTheGroup(t *testing.T) {
	h := startNode(t, testConfig(2, map[string]string{"BEE_GO_RUN": "1"}), Options{})
	h.waitForLines(t, "ready", 2)
	h.waitForLines(t, "child", 2)
	pids := h.pids(t)
	require.Len(t, pids, 4) // two go-run stand-ins and their children

	took := h.stop(t)
	assert.Less(t, took, 5*time.Second, "stopping waited for the grace period")
	assert.Equal(t, 2, strings.Count(h.out.String(), "got SIGTERM"))
	assertGone(t, pids)
	for _, inst := range h.node.Instances() {
		assert.Equal(t, Stopped, inst.State)
	}
}

func TestInstanceIgnoringSIGTERMIsKilledAfterGrace(t *testing.T) {
	const grace = 300 * time.Millisecond
	h := startNode(t, testConfig(2, map[string]string{"BEE_GO_RUN": "1", "BEE_IGNORE_TERM": "1"}), Options{Grace: grace})
	h.waitForLines(t, "ready", 2)
	h.waitForLines(t, "child", 2)
	pids := h.pids(t)

	took := h.stop(t)
	assert.GreaterOrEqual(t, took, grace)
	assert.Less(t, took, grace+5*time.Second)
	assert.NotContains(t, h.out.String(), "got SIGTERM")
	assertGone(t, pids)
}

func TestCommandNotFoundStopsTheNode(t *testing.T) {
	cfg := testConfig(2, nil)
	cfg.Services = append(cfg.Services, Service{Name: "ghost", Command: []string{"./no-such-program"}, Instances: 1})
	n := New(cfg, Options{Stdout: &hivetest.Logs{}, Logger: discard})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := n.Run(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "node: start ghost.0")
	assert.NoError(t, ctx.Err(), "Run returned only when the test gave up")
}

func TestPrefixerCutsLines(t *testing.T) {
	var out bytes.Buffer
	p := newPrefixer(&lineWriter{w: &out}, "menu.1", 8, 0, false)
	for _, s := range []string{"one\ntw", "o\n", "", "three\nfour\nfi", "ve"} {
		p.Write([]byte(s))
	}
	p.flush()
	p.Write(bytes.Repeat([]byte("x"), maxLine+1))
	assert.Equal(t, "menu.1   | one\nmenu.1   | two\nmenu.1   | three\nmenu.1   | four\nmenu.1   | five\n"+
		"menu.1   | "+strings.Repeat("x", maxLine+1)+"\n", out.String())
}

// --- helpers ---

var discard = slog.New(slog.DiscardHandler)

func testConfig(instances int, env map[string]string) Config {
	return Config{Services: []Service{{Name: "bee", Command: []string{os.Args[0]}, Instances: instances, Env: env}}}
}

// running is a node running in the background of a test.
type running struct {
	node   *Node
	out    *hivetest.Logs // what the bees printed
	log    *hivetest.Logs // what the node logged: deaths, restarts, kills
	cancel context.CancelFunc
	done   chan error
}

func startNode(t *testing.T, cfg Config, opts Options) *running {
	t.Setenv("NODE_TEST_BEE", "1")
	// Under the race detector, a process waits a second before it exits,
	// which would make every test here a second slower.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	out, log := &hivetest.Logs{}, &hivetest.Logs{}
	opts.Stdout, opts.Logger = out, slog.New(slog.NewTextHandler(log, nil))
	ctx, cancel := context.WithCancel(context.Background())
	h := &running{node: New(cfg, opts), out: out, log: log, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- h.node.Run(ctx) }()
	t.Cleanup(func() { h.stop(t) })
	return h
}

// stop cancels the node's context and returns how long Run took to return.
func (h *running) stop(t *testing.T) time.Duration {
	start := time.Now()
	h.cancel()
	select {
	case err, ok := <-h.done:
		if ok {
			assert.NoError(t, err)
			close(h.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30s after its context ended")
	}
	return time.Since(start)
}

// waitForLines waits until the output has n lines that contain s.
func (h *running) waitForLines(t *testing.T, s string, n int) {
	t.Helper()
	h.waitFor(t, fmt.Sprintf("%d lines with %q", n, s), func() bool { return strings.Count(h.out.String(), s) >= n })
}

// waitFor waits until done returns true. If it does not within 20 seconds,
// the test fails with what the bees printed and what the node logged.
func (h *running) waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20s for %s.\nWhat the bees printed:\n%s\nWhat the node logged:\n%s", what, h.out, h.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pids returns the pids of all instances and of the children they logged.
func (h *running) pids(t *testing.T) []int {
	var pids []int
	for _, inst := range h.node.Instances() {
		pids = append(pids, inst.PID)
	}
	for _, m := range regexp.MustCompile(`\| child (\d+)`).FindAllStringSubmatch(h.out.String(), -1) {
		pid, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		pids = append(pids, pid)
	}
	return pids
}

// assertGone checks that the processes have ended. A process that was
// killed may take the kernel a moment to tear down after it closed its
// output (which is when Run learns that it ended), so it gets a second.
func assertGone(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		assert.Eventually(t, func() bool { return !alive(pid) }, time.Second, 5*time.Millisecond, "process %d still runs", pid)
	}
}

// alive reports whether a process runs. A zombie (dead, but not yet
// reaped by its parent) does not count.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err != nil || !bytes.Contains(stat, []byte(") Z "))
}
