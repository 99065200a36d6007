package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// CloseRabbitMQConnections makes RabbitMQ close every connection of
// namespace, as a broker restart or a network failure would, and returns
// how many it closed. hive names each connection after its namespace, so
// this closes no connection of another test or beehive, unlike
// `rabbitmqctl close_all_connections`. It needs rabbitmqctl (see
// HaveRabbitmqctl), and the right to run it.
func CloseRabbitMQConnections(ctx context.Context, namespace string) (int, error) {
	if !HaveRabbitmqctl() {
		return 0, errors.New("brokertest: rabbitmqctl is not installed here")
	}
	out, err := rabbitmqctl(ctx, "list_connections", "pid", "client_properties")
	if err != nil {
		return 0, err
	}
	// A line is "<pid>\t[..., {"connection_name","<namespace>"}, ...]".
	var pids []string
	for line := range strings.Lines(string(out)) {
		pid, props, _ := strings.Cut(strings.TrimSpace(line), "\t")
		if strings.Contains(props, `{"connection_name","`+namespace+`"}`) {
			pids = append(pids, pid)
		}
	}
	// Each rabbitmqctl takes most of a second to start: close them all at
	// once.
	var wg sync.WaitGroup
	errs := make([]error, len(pids))
	for i, pid := range pids {
		wg.Go(func() {
			_, errs[i] = rabbitmqctl(ctx, "close_connection", pid, "closed by brokertest.CloseRabbitMQConnections")
		})
	}
	wg.Wait()
	return len(pids), errors.Join(errs...)
}

// rabbitmqctl runs a rabbitmqctl command, quietly, and returns its output.
// It gives up when ctx ends, even though rabbitmqctl may have started
// processes of its own (su, the Erlang VM) that outlive it and hold its
// output open.
func rabbitmqctl(ctx context.Context, command string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "rabbitmqctl", append([]string{"--quiet", command}, args...)...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("brokertest: rabbitmqctl %s: %w", command, context.Cause(ctx))
	case err != nil:
		return nil, fmt.Errorf("brokertest: rabbitmqctl %s: %w: %s", command, err, bytes.TrimSpace(out))
	}
	return out, nil
}

// HaveRabbitmqctl reports whether rabbitmqctl, which
// CloseRabbitMQConnections needs, is installed here.
func HaveRabbitmqctl() bool {
	_, err := exec.LookPath("rabbitmqctl")
	return err == nil
}

// RequireRabbitmqctl skips t if rabbitmqctl is not installed, or fails it
// under HIVE_REQUIRE_BROKERS=1, as a missing broker does.
func RequireRabbitmqctl(t testing.TB) {
	t.Helper()
	if HaveRabbitmqctl() {
		return
	}
	msg := "this test closes RabbitMQ connections with rabbitmqctl, which is not installed here"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg + "\n(" + RequireEnv + "=1 turns this skip into a failure.)")
	}
	t.Skip(msg)
}
