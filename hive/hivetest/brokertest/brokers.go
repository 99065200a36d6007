package brokertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	probe "github.com/hive-workshop/microservices-go/internal/workshop/broker"
)

// The images that docker-compose.yml uses too; both are built for amd64
// and arm64.
const (
	rabbitMQImage  = "rabbitmq:3.13-management"
	zooKeeperImage = "zookeeper:3.9"
)

// rabbitMQEnv is the broker's setting that docker-compose.yml makes too: a
// message over 1 MiB, hive's limit on an event, is refused when it is
// published.
var rabbitMQEnv = map[string]string{"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-rabbit max_message_size 1048576"}

// RequireEnv is the environment variable that makes a missing broker a
// test failure instead of a skip: CI sets HIVE_REQUIRE_BROKERS=1, so that
// no broker test can pass by silently skipping.
const RequireEnv = "HIVE_REQUIRE_BROKERS"

// RabbitMQ returns the AMQP URL of a RabbitMQ broker for t, trying in turn:
//
//  1. the HIVE_AMQP_URL environment variable;
//  2. the default local port, 127.0.0.1:5672, if it answers;
//  3. a container started with testcontainers-go, if Docker runs;
//
// and otherwise skips t with a message that says to run "make up" (or fails
// it, when HIVE_REQUIRE_BROKERS=1).
func RabbitMQ(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(rabbitMQ.env); u != "" {
		return u
	}
	addr := resolve(t, rabbitMQ)
	if addr == "" {
		return "" // only a fake testing.TB gets here: a real one stops in resolve
	}
	return "amqp://guest:guest@" + addr + "/"
}

// ZooKeeper returns the address list (host:port) of a ZooKeeper ensemble for
// t, trying the HIVE_ZOOKEEPER environment variable (comma-separated), then
// 127.0.0.1:2181, then a testcontainers-go container, like RabbitMQ does.
func ZooKeeper(t testing.TB) []string {
	t.Helper()
	if s := os.Getenv(zooKeeper.env); s != "" {
		return strings.Split(s, ",")
	}
	addr := resolve(t, zooKeeper)
	if addr == "" {
		return nil // only a fake testing.TB gets here: a real one stops in resolve
	}
	return []string{addr}
}

// A broker is what resolve needs to know to find one: its name for
// messages, the environment variable that points at it, the local address
// that docker-compose.yml publishes, how to tell that it serves clients
// there, how long to wait for one that is still starting, and how to
// start a container of it.
type broker struct {
	name        string
	env         string
	defaultAddr string
	probe       func(ctx context.Context, addr string) probe.Status
	startup     time.Duration
	container   func() (addr string, err error)
}

// startup is how long a broker that is still starting gets (RabbitMQ
// takes 20-30 s on a laptop, more on a busy one), as `make up` gives it.
const startup = 2 * time.Minute

func probeRabbitMQ(ctx context.Context, addr string) probe.Status {
	return probe.RabbitMQ(ctx, "amqp://guest:guest@"+addr+"/")
}

var (
	rabbitMQ = broker{
		name:        "RabbitMQ",
		env:         "HIVE_AMQP_URL",
		defaultAddr: "127.0.0.1:5672",
		probe:       probeRabbitMQ,
		startup:     startup,
		container: func() (string, error) {
			return rabbitContainer.start(rabbitMQImage, "5672/tcp", rabbitMQEnv, "Server startup complete")
		},
	}
	zooKeeper = broker{
		name:        "ZooKeeper",
		env:         "HIVE_ZOOKEEPER",
		defaultAddr: "127.0.0.1:2181",
		probe:       probe.ZooKeeper,
		startup:     startup,
		container: func() (string, error) {
			return zkContainer.start(zooKeeperImage, "2181/tcp", map[string]string{"ZOO_4LW_COMMANDS_WHITELIST": "*"}, "binding to port")
		},
	}
)

// resolve returns the host:port of broker b once its environment variable
// has been ruled out: b.defaultAddr if the broker there serves clients
// (waiting for one that is still starting, as `make up` does), otherwise
// a container's address. When neither works it skips t, or fails it
// under HIVE_REQUIRE_BROKERS=1, and returns "" (which only a fake
// testing.TB, one that does not stop the test, ever sees).
//
// An open port is not enough: Docker's port forwarding accepts
// connections long before the broker in the container does.
func resolve(t testing.TB, b broker) string {
	t.Helper()
	st := b.probe(context.Background(), b.defaultAddr)
	if (st.State == probe.Silent || st.State == probe.Starting) && !gaveUp(b.defaultAddr, false) {
		t.Logf("brokertest: %s on %s does not serve yet (%s): waiting up to %v for it to start", b.name, b.defaultAddr, st.Detail, b.startup)
		ctx, cancel := context.WithTimeout(context.Background(), b.startup)
		st = probe.Wait(ctx, func(ctx context.Context) probe.Status { return b.probe(ctx, b.defaultAddr) })
		cancel()
		if st.State != probe.Ready {
			gaveUp(b.defaultAddr, true)
		}
	}
	if st.State == probe.Ready {
		return b.defaultAddr
	}
	addr, err := b.container()
	if err != nil {
		missing(t, b, st, err)
		return ""
	}
	return addr
}

// waitedInVain holds the addresses where a broker never became ready
// within its startup time, so that the test binary waits for each once
// and not once per test.
var waitedInVain sync.Map

// gaveUp reports whether resolve waited in vain for addr before, and with
// record remembers that it just did.
func gaveUp(addr string, record bool) bool {
	if record {
		waitedInVain.Store(addr, true)
		return true
	}
	_, ok := waitedInVain.Load(addr)
	return ok
}

// AMQPHost returns the host:port part of an AMQP URL, for tests that need to
// reach the broker below the AMQP level.
func AMQPHost(amqpURL string) string {
	u, err := url.Parse(amqpURL)
	if err != nil {
		return ""
	}
	return u.Host
}

func missing(t testing.TB, b broker, st probe.Status, err error) {
	t.Helper()
	there := "nothing answers on " + b.defaultAddr
	if st.State != probe.Closed {
		there = "on " + b.defaultAddr + " " + st.Detail
	}
	msg := fmt.Sprintf("%s is not running: %s, %s is not set, and no container could be started (%v).\n"+
		"Start the brokers with `make up` in the repository's top folder (`make doctor` says what is wrong), or set %s to a broker's address.",
		b.name, there, b.env, err, b.env)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg + "\n(" + RequireEnv + "=1 turns this skip into a failure.)")
		return
	}
	t.Skip(msg)
}

// A container is started at most once per test binary and shared by all
// its tests (each test keeps to its own namespace); the Ryuk reaper of
// testcontainers-go removes it when the test binary ends.
var rabbitContainer, zkContainer sharedContainer

type sharedContainer struct {
	once sync.Once
	addr string
	err  error
}

func (c *sharedContainer) start(image, port string, env map[string]string, readyLog string) (string, error) {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		c.addr, c.err = startContainer(ctx, image, port, env, readyLog)
	})
	return c.addr, c.err
}

func startContainer(ctx context.Context, image, port string, env map[string]string, readyLog string) (addr string, err error) {
	if err := dockerRuns(ctx); err != nil {
		return "", err
	}
	// testcontainers-go panics in some setups; that must read as an error,
	// not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start %s: %v", image, r)
		}
	}()
	ctr, err := testcontainers.Run(ctx, image,
		testcontainers.WithExposedPorts(port),
		testcontainers.WithEnv(env),
		testcontainers.WithWaitStrategy(wait.ForListeningPort(port), wait.ForLog(readyLog)),
	)
	if err != nil {
		return "", fmt.Errorf("start %s: %w", image, err)
	}
	return ctr.PortEndpoint(ctx, port, "")
}

// dockerRuns returns nil when a Docker engine answers, and otherwise an
// error that says why not. Without Docker it returns at once (in about a
// millisecond), so a test without brokers skips quickly instead of hanging.
func dockerRuns(ctx context.Context) (err error) {
	// testcontainers-go panics in some setups without Docker; a missing
	// Docker must read as an error, not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("docker is not available: %v", r)
		}
	}()
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("docker is not available: %w", err)
	}
	defer provider.Close()
	if err := provider.Health(ctx); err != nil {
		return fmt.Errorf("docker is not available: %w", err)
	}
	return nil
}
