package brokertest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	probe "github.com/hive-workshop/microservices-go/internal/broker"
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
// it, when HIVE_REQUIRE_BROKERS=1). go test -short skips every test on
// real brokers.
func RabbitMQ(t testing.TB) string {
	t.Helper()
	skipIfShort(t)
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
	skipIfShort(t)
	if s := os.Getenv(zooKeeper.env); s != "" {
		return strings.Split(s, ",")
	}
	addr := resolve(t, zooKeeper)
	if addr == "" {
		return nil // only a fake testing.TB gets here: a real one stops in resolve
	}
	return []string{addr}
}

// skipIfShort skips t under go test -short: tests on real brokers take
// seconds each, and -short asks for the quick ones.
func skipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("a test on real brokers: -short leaves it out")
	}
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
			return rabbitContainer.start("RabbitMQ", probeRabbitMQ, rabbitMQImage, "5672/tcp", rabbitMQEnv, "Server startup complete")
		},
	}
	zooKeeper = broker{
		name:        "ZooKeeper",
		env:         "HIVE_ZOOKEEPER",
		defaultAddr: "127.0.0.1:2181",
		probe:       probe.ZooKeeper,
		startup:     startup,
		container: func() (string, error) {
			return zkContainer.start("ZooKeeper", probe.ZooKeeper, zooKeeperImage, "2181/tcp", map[string]string{"ZOO_4LW_COMMANDS_WHITELIST": "*"}, "binding to port")
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

// A container is started at most once per test binary, at the first
// test that needs it, and shared by all its tests (each test keeps to its
// own namespace). The test binary owns it, and the Ryuk reaper of
// testcontainers-go ends it when the binary ends: Go's testing gives a
// package no hook at its end but a TestMain of its own, which each of the
// packages on brokers would need.
//
// Containers are not shared across packages: go test runs each package in
// a process of its own, several at once, and none of them knows that it
// is the last, to end a shared container. One set of brokers for a whole
// test run is what `make up` is for: each package's container takes the
// broker's start-up time (RabbitMQ's: 20-30 s on a laptop) once more.
var rabbitContainer, zkContainer sharedContainer

type sharedContainer struct {
	once sync.Once
	addr string
	err  error

	mu  sync.Mutex // guards ctr, which started reads while start may run
	ctr *testcontainers.DockerContainer
}

func (c *sharedContainer) start(name string, check func(context.Context, string) probe.Status, image, port string, env map[string]string, readyLog string) (string, error) {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var ctr *testcontainers.DockerContainer
		ctr, c.addr, c.err = startContainer(ctx, name, check, image, port, containerOptions(port, env, readyLog))
		c.mu.Lock()
		c.ctr = ctr
		c.mu.Unlock()
	})
	return c.addr, c.err
}

// started returns the container that start started, or nil.
func (c *sharedContainer) started() *testcontainers.DockerContainer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctr
}

// containerOptions are how brokertest runs a broker's image: port
// published on 127.0.0.1 only, as docker-compose.yml publishes it (the
// brokers take the well-known guest/guest login), on a port that Docker
// picks; labelled as brokertest's; ready once readyLog shows in its log.
func containerOptions(port string, env map[string]string, readyLog string) []testcontainers.ContainerCustomizer {
	return []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(port),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{network.MustParsePort(port): {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
		}),
		testcontainers.WithEnv(env),
		testcontainers.WithLabels(map[string]string{probe.ContainerLabel: "1"}),
		testcontainers.WithWaitStrategy(wait.ForLog(readyLog)),
	}
}

// startContainer runs image with opts and returns the container, and the
// address where it publishes port, once the broker in it serves clients
// (check says so, as it does for `make up`'s). A container that does not
// get there is removed at once.
func startContainer(ctx context.Context, name string, check func(context.Context, string) probe.Status, image, port string, opts []testcontainers.ContainerCustomizer) (ctr *testcontainers.DockerContainer, addr string, err error) {
	if err := dockerRuns(ctx); err != nil {
		return nil, "", err
	}
	// testcontainers-go panics in some setups; that must read as an error,
	// not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start %s: %v", image, r)
		}
		if err != nil && ctr != nil {
			// Run returns the container with its error, when it failed
			// after creating it: it must not stay behind.
			testcontainers.TerminateContainer(ctr)
			ctr = nil
		}
	}()
	ctr, err = testcontainers.Run(ctx, image, opts...)
	if err != nil {
		return ctr, "", containerError(image, err)
	}
	addr, err = endpoint(ctx, ctr, port)
	if err != nil {
		return ctr, "", fmt.Errorf("start %s: %w", image, err)
	}
	if st := probe.Wait(ctx, func(ctx context.Context) probe.Status { return check(ctx, addr) }); st.State != probe.Ready {
		return ctr, "", fmt.Errorf("start %s: %s does not serve clients on %s: %s", image, name, addr, st.Detail)
	}
	return ctr, addr, nil
}

// endpoint returns the host:port where ctr publishes port: 127.0.0.1,
// rather than "localhost", which may mean ::1, where nothing is published.
func endpoint(ctx context.Context, ctr *testcontainers.DockerContainer, port string) (string, error) {
	host, err := ctr.Host(ctx)
	if err != nil {
		return "", err
	}
	mapped, err := ctr.MappedPort(ctx, port)
	if err != nil {
		return "", err
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, mapped.Port()), nil
}

// containerError says what to do about a container that could not start:
// most often an image that cannot be downloaded, the reaper's included.
func containerError(image string, err error) error {
	hint := "`make pull` downloads the images while the network is good; `make up` runs the brokers once for all the tests"
	if strings.Contains(err.Error(), "reaper") {
		return fmt.Errorf("start %s: testcontainers-go could not start its reaper, %s, which removes the test's containers when the tests end (%w).\n%s",
			image, testcontainers.ReaperDefaultImage, err, hint)
	}
	return fmt.Errorf("start %s: %w.\n%s", image, err, hint)
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
