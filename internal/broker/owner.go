package broker

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// Owner names the program that listens on addr's port, such as
// "beam.smp (pid 3010)", as the operating system tells it: ss on Linux,
// lsof on macOS and elsewhere. It returns "" when neither says, for
// example when the program belongs to another user and ss runs without
// root.
func Owner(ctx context.Context, addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ss", "-Hltnp", "sport = :"+port).Output(); err == nil {
		if owner := ownerFromSS(string(out)); owner != "" {
			return owner
		}
	}
	if out, err := exec.CommandContext(ctx, "lsof", "-nP", "-iTCP:"+port, "-sTCP:LISTEN", "-Fpc").Output(); err == nil {
		return ownerFromLsof(string(out))
	}
	return ""
}

// ssUsers matches the first process in ss -p's users:(("name",pid=N,fd=M)).
var ssUsers = regexp.MustCompile(`users:\(\("([^"]+)",pid=(\d+)`)

func ownerFromSS(out string) string {
	m := ssUsers.FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return fmt.Sprintf("%s (pid %s)", m[1], m[2])
}

// ownerFromLsof reads lsof -F's fields: a line "p<pid>", then "c<command>".
func ownerFromLsof(out string) string {
	var pid, name string
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "p") && pid == "":
			pid = line[1:]
		case strings.HasPrefix(line, "c") && name == "":
			name = line[1:]
		}
	}
	if pid == "" || name == "" {
		return ""
	}
	return fmt.Sprintf("%s (pid %s)", name, pid)
}

// dockerForwarders are the programs through which Docker publishes a
// container's ports: docker-proxy on Linux, Docker Desktop's backend and
// vpnkit on macOS and Windows, rootlesskit for rootless Docker, and
// Podman's gvproxy and rootlessport.
var dockerForwarders = []string{"docker-proxy", "com.docker", "vpnkit", "rootlesskit", "gvproxy", "rootlessport"}

// IsDockerForwarding reports whether owner, as Owner names it, is the
// program that forwards a port to a container.
func IsDockerForwarding(owner string) bool {
	for _, name := range dockerForwarders {
		if strings.HasPrefix(owner, name) {
			return true
		}
	}
	return false
}
