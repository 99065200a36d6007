//go:build !unix

package node

import (
	"os"
	"os/exec"
)

// Without Unix process groups and signals (on Windows), an instance is
// its process alone, and stopping it means killing it: there is no SIGTERM
// to ask it politely.

func newProcessGroup(cmd *exec.Cmd) {}

func terminate(p *os.Process) error { return p.Kill() }

func kill(p *os.Process) error { return p.Kill() }

func sendSignal(p *os.Process, sig os.Signal) error { return p.Signal(sig) }
