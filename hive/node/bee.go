package node

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// A bee is one instance: its command, and the process that runs it now.
type bee struct {
	command []string
	env     []string
	out     *prefixer

	// Guarded by Node.mu.
	Instance
	process *os.Process // nil when no process runs
	started time.Time   // when process started
	killed  bool        // by KillRandom: it did not crash, so no backoff
	asleep  bool        // put to sleep by Scale: it stops for good
	cancel  context.CancelFunc
}

// How long a dead instance waits before it starts again: at first briefly,
// then twice as long after each quick death, so that an instance that
// crashes at once does not burn a CPU. After a good run, or a death that
// KillRandom caused, it starts over.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 8 * time.Second
	goodRun    = 10 * time.Second
)

// supervise runs b until ctx ends, and starts it again whenever it dies.
// It returns an error only when b's command cannot be started at all.
func (n *Node) supervise(ctx context.Context, b *bee) error {
	backoff := minBackoff
	for {
		started := time.Now()
		cmd, exited, err := n.start(b)
		if err != nil {
			n.set(b, Stopped, nil)
			return fmt.Errorf("node: start %s: %w", b.Name(), err)
		}

		select {
		case <-ctx.Done():
			n.stop(b, cmd.Process, exited)
			return nil
		case err := <-exited:
			ran := time.Since(started)
			if ran > goodRun || n.wasKilled(b) {
				backoff = minBackoff
			}
			n.logger.Warn("instance died; starting it again", "instance", b.Name(), "pid", cmd.Process.Pid,
				"status", exitStatus(err), "ran", ran.Round(time.Millisecond), "restart_in", backoff)
		}

		n.set(b, Restarting, nil)
		select {
		case <-ctx.Done():
			n.set(b, Stopped, nil)
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
		n.mu.Lock()
		b.Restarts++
		n.mu.Unlock()
	}
}

// start starts a process for b. The returned channel gets the result of
// cmd.Wait once the process has exited and its output is written.
func (n *Node) start(b *bee) (*exec.Cmd, <-chan error, error) {
	cmd := exec.Command(b.command[0], b.command[1:]...)
	cmd.Env = b.env
	// One writer for both streams: exec then copies them through one pipe,
	// so that the prefixer sees the lines in the order they were written.
	cmd.Stdout, cmd.Stderr = b.out, b.out
	newProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	n.set(b, Running, cmd.Process)

	exited := make(chan error, 1)
	go func() {
		// Wait returns when the process has exited and every process holding
		// its output (such as the program that `go run` started) has closed
		// it: so usually when the whole instance is gone.
		err := cmd.Wait()
		b.out.flush()
		// An instance is its whole process group: what is left of it (a
		// child that closed its output) must not outlive it, or a restart
		// would run it twice.
		kill(cmd.Process)
		exited <- err
	}()
	return cmd, exited, nil
}

// stop stops b's process: SIGTERM to its process group, so that it can
// finish its work; then, after the grace period, SIGKILL to what is left.
func (n *Node) stop(b *bee, p *os.Process, exited <-chan error) {
	n.set(b, Stopping, p)
	if err := terminate(p); err != nil {
		n.logger.Debug("SIGTERM failed", "instance", b.Name(), "pid", p.Pid, "error", err)
	}
	grace := time.NewTimer(n.opts.Grace)
	defer grace.Stop()
	select {
	case <-exited:
	case <-grace.C:
		n.logger.Warn("instance did not stop within the grace period; killing it",
			"instance", b.Name(), "pid", p.Pid, "grace", n.opts.Grace)
		kill(p)
		<-exited
	}
	n.set(b, Stopped, nil)
}

// set records what b is doing, and its process.
func (n *Node) set(b *bee, state State, p *os.Process) {
	n.mu.Lock()
	defer n.mu.Unlock()
	b.State, b.process, b.PID = state, p, 0
	if p != nil {
		b.PID = p.Pid
	}
	if state == Running {
		b.started = time.Now()
	}
}

// wasKilled reports whether KillRandom killed b's last process, and
// forgets it.
func (n *Node) wasKilled(b *bee) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	killed := b.killed
	b.killed = false
	return killed
}

// exitStatus says how a process ended: "exit status 1", "signal: killed".
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
