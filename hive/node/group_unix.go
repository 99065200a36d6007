//go:build unix

package node

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// Each instance runs in a process group of its own, and signals go to the
// whole group. That matters for `go run`: it starts the real program as a
// child, and a signal to the go command alone would leave that child
// running. It also keeps the terminal's Ctrl-C away from the instances:
// the node hears it and stops them in order.

func newProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminate asks every process of p's group to stop.
func terminate(p *os.Process) error { return signalGroup(p, syscall.SIGTERM) }

// kill stops every process of p's group at once.
func kill(p *os.Process) error { return signalGroup(p, syscall.SIGKILL) }

// sendSignal sends sig to every process of p's group.
func sendSignal(p *os.Process, sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return p.Signal(sig) // not a Unix signal: let os say why it cannot send it
	}
	return signalGroup(p, s)
}

func signalGroup(p *os.Process, sig syscall.Signal) error {
	err := syscall.Kill(-p.Pid, sig) // a negative pid means the group
	if errors.Is(err, syscall.ESRCH) {
		return nil // nothing left to signal
	}
	return err
}
