package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	tcexec "github.com/testcontainers/testcontainers-go/exec"
)

// RabbitmqctlEnv names the environment variable that says how to run
// rabbitmqctl, as a command line, when brokertest should not look for it
// itself: for example "sudo rabbitmqctl", or
// "docker compose exec -T rabbitmq rabbitmqctl".
const RabbitmqctlEnv = "HIVE_RABBITMQCTL"

// CloseRabbitMQConnections makes RabbitMQ close every connection of
// namespace, as a broker restart or a network failure would, and returns
// how many it closed. hive names each connection after its namespace, so
// this closes no connection of another test or beehive, unlike
// `rabbitmqctl close_all_connections`.
//
// It runs rabbitmqctl where the broker runs (see HaveRabbitmqctl), and
// needs the right to run it. (Neither AMQP nor anything but rabbitmqctl
// that every RabbitMQ has can close another client's connection: the
// management plugin's HTTP API could, but a RabbitMQ installed from
// Debian's packages, as in CI, runs without it.)
func CloseRabbitMQConnections(ctx context.Context, namespace string) (int, error) {
	ctl, err := findRabbitmqctl(ctx)
	if err != nil {
		return 0, err
	}
	out, err := ctl.run(ctx, "list_connections", "pid", "client_properties")
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
			_, errs[i] = ctl.run(ctx, "close_connection", pid, "closed by brokertest.CloseRabbitMQConnections")
		})
	}
	wg.Wait()
	return len(pids), errors.Join(errs...)
}

// HaveRabbitmqctl reports whether rabbitmqctl, which
// CloseRabbitMQConnections needs, can reach the tests' RabbitMQ. It looks
// in this order:
//
//  1. the command line in HIVE_RABBITMQCTL, if that is set;
//  2. inside the container that brokertest started for RabbitMQ, if it
//     started one;
//  3. inside the Docker container that publishes RabbitMQ's port, such
//     as the one of `make up`;
//  4. installed here.
func HaveRabbitmqctl() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := findRabbitmqctl(ctx)
	return err == nil
}

// RequireRabbitmqctl skips t if no rabbitmqctl can reach the broker (see
// HaveRabbitmqctl), or fails it under HIVE_REQUIRE_BROKERS=1, as a missing
// broker does.
func RequireRabbitmqctl(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := findRabbitmqctl(ctx)
	if err == nil {
		return
	}
	msg := "this test closes RabbitMQ connections with rabbitmqctl: " + err.Error()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg + "\n(" + RequireEnv + "=1 turns this skip into a failure.)")
	}
	t.Skip(msg)
}

// A rabbitmqctl runs rabbitmqctl commands wherever it was found.
type rabbitmqctl struct {
	run func(ctx context.Context, command string, args ...string) ([]byte, error)
}

// findRabbitmqctl finds rabbitmqctl where HaveRabbitmqctl says, and
// otherwise returns an error that says where it looked.
func findRabbitmqctl(ctx context.Context) (rabbitmqctl, error) {
	if line := strings.Fields(os.Getenv(RabbitmqctlEnv)); len(line) > 0 {
		return commandLine(line...), nil
	}
	if os.Getenv(rabbitMQ.env) == "" {
		if ctr := rabbitContainer.started(); ctr != nil {
			return containerExec(ctr), nil
		}
	}
	addr := rabbitMQAddr()
	if id := dockerPublishing(ctx, addr); id != "" {
		// What `docker compose exec -T rabbitmq rabbitmqctl` does for
		// make up's RabbitMQ, without needing the compose file (a step's
		// tests run in its folder) nor knowing which Compose runs.
		return commandLine("docker", "exec", id, "rabbitmqctl"), nil
	}
	if _, err := exec.LookPath("rabbitmqctl"); err == nil {
		return commandLine("rabbitmqctl"), nil
	}
	return rabbitmqctl{}, fmt.Errorf("brokertest: rabbitmqctl is not installed here, and no Docker container publishes RabbitMQ's %s; "+
		"set %s to the command that runs it (such as \"sudo rabbitmqctl\")", addr, RabbitmqctlEnv)
}

// rabbitMQAddr is the host:port of the RabbitMQ that the tests use when
// no container of brokertest's runs it: HIVE_AMQP_URL's, or the default.
func rabbitMQAddr() string {
	if u, err := url.Parse(os.Getenv(rabbitMQ.env)); err == nil && u.Host != "" {
		return u.Host
	}
	return rabbitMQ.defaultAddr
}

// commandLine runs rabbitmqctl with the command line argv, quietly, and
// returns its output. It gives up when ctx ends, even though rabbitmqctl
// may have started processes of its own (su, the Erlang VM) that outlive
// it and hold its output open.
func commandLine(argv ...string) rabbitmqctl {
	return rabbitmqctl{run: func(ctx context.Context, command string, args ...string) ([]byte, error) {
		line := append(append(argv[1:len(argv):len(argv)], "--quiet", command), args...)
		cmd := exec.CommandContext(ctx, argv[0], line...)
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		return ctlResult(ctx, command, out, err)
	}}
}

// containerExec runs rabbitmqctl inside ctr.
func containerExec(ctr interface {
	Exec(context.Context, []string, ...tcexec.ProcessOption) (int, io.Reader, error)
}) rabbitmqctl {
	return rabbitmqctl{run: func(ctx context.Context, command string, args ...string) ([]byte, error) {
		code, r, err := ctr.Exec(ctx, append([]string{"rabbitmqctl", "--quiet", command}, args...), tcexec.Multiplexed())
		var out []byte
		if r != nil {
			out, _ = io.ReadAll(r)
		}
		if err == nil && code != 0 {
			err = fmt.Errorf("exit status %d", code)
		}
		return ctlResult(ctx, command, out, err)
	}}
}

func ctlResult(ctx context.Context, command string, out []byte, err error) ([]byte, error) {
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("brokertest: rabbitmqctl %s: %w", command, context.Cause(ctx))
	case err != nil:
		return nil, fmt.Errorf("brokertest: rabbitmqctl %s: %w: %s", command, err, bytes.TrimSpace(out))
	}
	return out, nil
}

// dockerPublishing returns the ID of the running Docker container that
// publishes addr's port on addr's host (or on every address), or "" if
// none does or Docker does not answer.
func dockerPublishing(ctx context.Context, addr string) string {
	if _, err := exec.LookPath("docker"); err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "ps", "--format", "{{.ID}}\t{{.Ports}}").Output()
	if err != nil {
		return ""
	}
	return publishing(string(out), addr)
}

// publishing reads `docker ps --format '{{.ID}}\t{{.Ports}}'`, whose
// Ports are like "127.0.0.1:5672->5672/tcp, [::]:2181->2181/tcp", and
// returns the ID of the container that publishes addr.
func publishing(ps, addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	local := host == "localhost" || net.ParseIP(host).IsLoopback()
	for line := range strings.Lines(ps) {
		id, ports, _ := strings.Cut(strings.TrimSpace(line), "\t")
		for p := range strings.SplitSeq(ports, ",") {
			published, _, ok := strings.Cut(strings.TrimSpace(p), "->")
			if !ok {
				continue
			}
			h, pp, err := net.SplitHostPort(published)
			if err != nil || pp != port {
				continue
			}
			ip := net.ParseIP(h)
			if h == host || ip != nil && ip.IsUnspecified() || local && ip != nil && ip.IsLoopback() {
				return id
			}
		}
	}
	return ""
}

// QueueTypes returns the type (classic, quorum, stream) of every queue
// whose name starts with prefix, by name. It needs rabbitmqctl, as
// CloseRabbitMQConnections does.
func QueueTypes(ctx context.Context, prefix string) (map[string]string, error) {
	ctl, err := findRabbitmqctl(ctx)
	if err != nil {
		return nil, err
	}
	out, err := ctl.run(ctx, "list_queues", "name", "type")
	if err != nil {
		return nil, err
	}
	types := make(map[string]string)
	for line := range strings.Lines(string(out)) {
		name, kind, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if ok && strings.HasPrefix(name, prefix) {
			types[name] = kind
		}
	}
	return types, nil
}
