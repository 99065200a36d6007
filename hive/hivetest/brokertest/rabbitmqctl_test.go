package brokertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

func TestPublishing(t *testing.T) {
	const ps = "0a1b2c\t127.0.0.1:15672->15672/tcp, 127.0.0.1:5672->5672/tcp\n" +
		"3d4e5f\t0.0.0.0:2181->2181/tcp, [::]:2181->2181/tcp\n" +
		"6a7b8c\t\n" +
		"9d0e1f\t5672/tcp\n"
	for addr, want := range map[string]string{
		"127.0.0.1:5672":   "0a1b2c",
		"localhost:5672":   "0a1b2c",
		"127.0.0.1:2181":   "3d4e5f", // published on every address
		"127.0.0.1:15673":  "",
		"192.0.2.7:5672":   "", // a broker elsewhere
		"not an address":   "",
		"127.0.0.1:567":    "",
		"[::1]:5672":       "0a1b2c",
		"rabbit.lan:2181":  "3d4e5f",
		"127.0.0.1:32768":  "",
		"127.0.0.1:5672/x": "",
	} {
		if got := publishing(ps, addr); got != want {
			t.Errorf("publishing(ps, %q) = %q, want %q", addr, got, want)
		}
	}
}

// fakeDockerForRabbitMQ puts a docker command on the PATH, alone (no
// rabbitmqctl next to it), whose ps says that container c0ffee publishes
// RabbitMQ's address, and whose exec in c0ffee runs the machine's own
// rabbitmqctl there, logging the command line. It returns the log.
func fakeDockerForRabbitMQ(t *testing.T, amqpURL string) (log string) {
	t.Helper()
	real, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		RequireRabbitmqctl(t) // skips, or fails under HIVE_REQUIRE_BROKERS=1 where none at all reaches the broker
		t.Skip("this test lends the fake container the machine's rabbitmqctl, and the machine has none")
	}
	dir := t.TempDir()
	log = filepath.Join(dir, "docker.log")
	script := `#!/bin/sh
echo "$*" >>` + log + `
case "$1" in
ps) printf 'c0ffee\t%s->5672/tcp\n' '` + AMQPHost(amqpURL) + `' ;;
exec) [ "$2" = c0ffee ] || exit 1; shift 3; PATH='` + os.Getenv("PATH") + `' exec '` + real + `' "$@" ;;
*) exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	t.Setenv(RabbitmqctlEnv, "")
	return log
}

// TestCloseRabbitMQConnectionsWhereTheBrokerRuns: with the broker in a
// container, `make up`'s, the machine's own rabbitmqctl cannot reach it
// (or is not installed): brokertest runs the container's, with docker exec.
// Here a fake docker lends the container the machine's rabbitmqctl.
func TestCloseRabbitMQConnectionsWhereTheBrokerRuns(t *testing.T) {
	amqpURL := RabbitMQ(t)
	if _, err := exec.LookPath("docker"); err == nil && dockerPublishing(t.Context(), AMQPHost(amqpURL)) != "" {
		t.Skip("a real container publishes RabbitMQ here; this test fakes one")
	}
	log := fakeDockerForRabbitMQ(t, amqpURL)
	ns := hivetest.Namespace(t)
	conn, err := amqp.DialConfig(amqpURL, amqp.Config{Properties: amqp.Table{"connection_name": ns}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	n, err := CloseRabbitMQConnections(ctx, ns)
	if err != nil || n != 1 {
		t.Fatalf("CloseRabbitMQConnections = %d, %v; want 1 connection closed", n, err)
	}
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("RabbitMQ did not close the test's connection")
	}
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), "exec c0ffee rabbitmqctl --quiet close_connection") {
		t.Errorf("rabbitmqctl did not run in the broker's container; docker got:\n%s", b)
	}
}

// TestRabbitmqctlFromTheEnvironment: HIVE_RABBITMQCTL says how to run
// rabbitmqctl, and wins over looking for it.
func TestRabbitmqctlFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myctl"), []byte("#!/bin/sh\necho \"$*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(RabbitmqctlEnv, filepath.Join(dir, "myctl")+" --node rabbit@box")
	ctl, err := findRabbitmqctl(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out, err := ctl.run(t.Context(), "list_connections", "pid")
	if got := strings.TrimSpace(string(out)); err != nil || got != "--node rabbit@box --quiet list_connections pid" {
		t.Errorf("rabbitmqctl ran with %q, %v; want the variable's arguments first", got, err)
	}
}

// TestNoRabbitmqctlSaysWhereItLooked: without rabbitmqctl anywhere, the
// message says where brokertest looked and how to tell it.
func TestNoRabbitmqctlSaysWhereItLooked(t *testing.T) {
	if rabbitContainer.started() != nil {
		t.Skip("this test binary runs RabbitMQ in a container of its own, whose rabbitmqctl is always there")
	}
	t.Setenv("PATH", t.TempDir())
	t.Setenv(RabbitmqctlEnv, "")
	_, err := findRabbitmqctl(t.Context())
	if err == nil || !strings.Contains(err.Error(), "not installed here") || !strings.Contains(err.Error(), RabbitmqctlEnv) {
		t.Errorf("findRabbitmqctl = %v, want an error naming the places and %s", err, RabbitmqctlEnv)
	}
}
