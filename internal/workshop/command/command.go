// Package command runs the small commands that the workshop's tools ask
// about the machine, such as `docker info`.
package command

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// Output runs a command for at most ten seconds (a stuck Docker engine can
// make docker hang) and returns its output, stdout and stderr together,
// trimmed. On a timeout the output says so.
func Output(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		return "no answer within 10s", ctx.Err()
	}
	return strings.TrimSpace(string(out)), err
}

// FirstLine returns s up to its first newline.
func FirstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Compose returns the Docker Compose that answers here: the plugin,
// ["docker", "compose"], or else the older standalone ["docker-compose"]
// (Compose v1). It returns nil if neither does. `make up` runs it and
// `make doctor` shows it, so both agree on what Compose is.
func Compose(ctx context.Context) []string {
	for _, c := range [][]string{{"docker", "compose"}, {"docker-compose"}} {
		if _, err := exec.LookPath(c[0]); err != nil {
			continue
		}
		if _, err := Output(ctx, c[0], append(c[1:], "version")...); err == nil {
			return c
		}
	}
	return nil
}
