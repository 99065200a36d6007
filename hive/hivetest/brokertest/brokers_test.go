package brokertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
	probe "github.com/hive-workshop/microservices-go/internal/broker"
	"github.com/hive-workshop/microservices-go/internal/broker/brokerfake"
)

func TestRabbitMQFromEnv(t *testing.T) {
	// The variable wins even over a broker that answers on the default
	// port, and it is returned as it is, without dialing it.
	const url = "amqp://user:secret@rabbit.example:5999/vhost"
	t.Setenv("HIVE_AMQP_URL", url)
	if got := RabbitMQ(t); got != url {
		t.Errorf("RabbitMQ = %q, want %q from HIVE_AMQP_URL", got, url)
	}
}

func TestZooKeeperFromEnv(t *testing.T) {
	t.Setenv("HIVE_ZOOKEEPER", "zk1.example:2181,zk2.example:2182")
	got := ZooKeeper(t)
	want := []string{"zk1.example:2181", "zk2.example:2182"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ZooKeeper = %q, want %q from HIVE_ZOOKEEPER", got, want)
	}
}

func TestAMQPHost(t *testing.T) {
	if got := AMQPHost("amqp://guest:guest@127.0.0.1:5672/"); got != "127.0.0.1:5672" {
		t.Errorf("AMQPHost = %q, want 127.0.0.1:5672", got)
	}
}

// fakeZooKeeper answers every connection with reply, as ZooKeeper
// answers "srvr".
func fakeZooKeeper(t *testing.T, reply string) string {
	return brokerfake.Server(t, brokerfake.Replies(reply))
}

const serving = "Zookeeper version: 3.9.3\nMode: standalone\n"

func TestResolveUsesDefaultPortWhenTheBrokerServes(t *testing.T) {
	addr := fakeZooKeeper(t, serving)
	b := testBroker(addr, func() (string, error) {
		t.Error("resolve started a container although the broker on the default port serves")
		return "", nil
	})
	if got := resolve(t, b); got != addr {
		t.Errorf("resolve = %q, want the default address %q", got, addr)
	}
}

// TestResolveDoesNotTakeAnOpenPortForABroker: Docker's port forwarding
// accepts connections as soon as the container starts; a broker that
// never answers there is no broker, and the tests must not run on it.
func TestResolveDoesNotTakeAnOpenPortForABroker(t *testing.T) {
	b := testBroker(brokerfake.Server(t, brokerfake.ClosesAtOnce), func() (string, error) { return "127.0.0.1:32768", nil })
	b.startup = 300 * time.Millisecond
	if got := resolve(t, b); got != "127.0.0.1:32768" {
		t.Errorf("resolve = %q, want the container's address, not the silent port %s", got, b.defaultAddr)
	}
}

// TestResolveWaitsForABrokerThatIsStarting: right after `make up`, say, a
// broker that answers but does not serve yet gets time to start.
func TestResolveWaitsForABrokerThatIsStarting(t *testing.T) {
	b := testBroker(brokerfake.FreeAddr(t), func() (string, error) {
		t.Error("resolve started a container although the broker was starting")
		return "", nil
	})
	probes := 0
	b.probe = func(context.Context, string) probe.Status {
		if probes++; probes < 3 {
			return probe.Status{State: probe.Starting, Detail: "it does not serve requests yet"}
		}
		return probe.Status{State: probe.Ready}
	}
	if got := resolve(t, b); got != b.defaultAddr || probes != 3 {
		t.Errorf("resolve = %q after %d probes, want %q after 3", got, probes, b.defaultAddr)
	}
}

func TestResolveStartsContainerWhenDefaultPortIsClosed(t *testing.T) {
	b := testBroker(brokerfake.FreeAddr(t), func() (string, error) { return "127.0.0.1:32768", nil })
	if got := resolve(t, b); got != "127.0.0.1:32768" {
		t.Errorf("resolve = %q, want the container's address", got)
	}
}

// No environment variable, nothing on the default port, no Docker: the test
// is skipped with a message that says to run `make up`, or fails when
// HIVE_REQUIRE_BROKERS=1. A fake testing.TB records which.
func TestResolveWithoutBrokerSkipsOrFails(t *testing.T) {
	for _, tc := range []struct {
		require             string
		wantSkip, wantFatal bool
	}{
		{require: "", wantSkip: true},
		{require: "1", wantFatal: true},
	} {
		t.Run(RequireEnv+"="+tc.require, func(t *testing.T) {
			t.Setenv(RequireEnv, tc.require)
			fake := &recordingTB{TB: t}
			b := testBroker(brokerfake.FreeAddr(t), func() (string, error) {
				return "", errors.New("docker is not available: no engine in this test")
			})
			if got := resolve(fake, b); got != "" {
				t.Errorf("resolve = %q, want \"\"", got)
			}
			if fake.skipped != tc.wantSkip || fake.failed != tc.wantFatal {
				t.Fatalf("skipped=%v failed=%v, want skipped=%v failed=%v", fake.skipped, fake.failed, tc.wantSkip, tc.wantFatal)
			}
			for _, want := range []string{"make up", "TestBroker", b.defaultAddr, b.env, "no engine in this test"} {
				if !strings.Contains(fake.msg, want) {
					t.Errorf("message does not mention %q:\n%s", want, fake.msg)
				}
			}
		})
	}
}

// Without a Docker engine, testcontainers-go must answer with an error,
// quickly: not hang, not panic.
func TestDockerRunsFailsFastWithoutDocker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := dockerRuns(ctx)
	took := time.Since(start)
	if err == nil {
		t.Skip("a Docker engine runs here; this test is about machines without one")
	}
	t.Logf("without Docker, dockerRuns took %v: %v", took, err)
	if !strings.HasPrefix(err.Error(), "docker is not available") {
		t.Errorf("error = %q, want it to start with \"docker is not available\"", err)
	}
	if took > 10*time.Second {
		t.Errorf("dockerRuns took %v, want well under 10s", took)
	}
}

// The whole chain, through a real *testing.T and the real testcontainers-go
// path: the test binary runs TestChildWithoutBroker in a child process (so
// that its Skip or Fatal ends only the child) and reads what it printed.
func TestWithoutBrokerOrDocker(t *testing.T) {
	if dockerRuns(context.Background()) == nil {
		t.Skip("a Docker engine runs here, so the helper would start a container")
	}
	for _, require := range []string{"", "1"} {
		t.Run(RequireEnv+"="+require, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChildWithoutBroker$", "-test.v")
			cmd.Env = append(os.Environ(), childAddrEnv+"="+brokerfake.FreeAddr(t), RequireEnv+"="+require)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			t.Logf("the child took %v", time.Since(start))
			if ctx.Err() != nil {
				t.Fatalf("the child hung:\n%s", out)
			}
			want, wantErr := "--- SKIP: TestChildWithoutBroker", false
			if require == "1" {
				want, wantErr = "--- FAIL: TestChildWithoutBroker", true
			}
			if !strings.Contains(string(out), want) || (err != nil) != wantErr {
				t.Fatalf("want %q and error=%v, got error %v and output:\n%s", want, wantErr, err, out)
			}
			if !strings.Contains(string(out), "make up") {
				t.Errorf("the message does not say to run `make up`:\n%s", out)
			}
		})
	}
}

// childAddrEnv tells TestChildWithoutBroker that it runs as the child of
// TestWithoutBrokerOrDocker, and which closed port to use as the default.
const childAddrEnv = "HIVETEST_CHILD_DEFAULT_ADDR"

func TestChildWithoutBroker(t *testing.T) {
	addr := os.Getenv(childAddrEnv)
	if addr == "" {
		return // a normal run: this test only works as a child process
	}
	b := rabbitMQ // the real one, with its real container path
	b.defaultAddr = addr
	resolve(t, b)
	t.Error("resolve returned instead of skipping or failing the test")
}

func testBroker(defaultAddr string, container func() (string, error)) broker {
	return broker{name: "TestBroker", env: "HIVE_TEST_BROKER_URL", defaultAddr: defaultAddr,
		probe: probe.ZooKeeper, startup: time.Second, container: container}
}

// recordingTB is a testing.TB whose Skip and Fatal only record what they
// were called with, so that a test can check which one resolve chose.
// Everything else goes to the real test it wraps.
type recordingTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recordingTB) Helper()                     {}
func (r *recordingTB) Skip(args ...any)            { r.skipped, r.msg = true, fmt.Sprint(args...) }
func (r *recordingTB) Skipf(f string, args ...any) { r.skipped, r.msg = true, fmt.Sprintf(f, args...) }
func (r *recordingTB) Fatal(args ...any)           { r.failed, r.msg = true, fmt.Sprint(args...) }
func (r *recordingTB) Fatalf(f string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(f, args...)
}

// docker-compose.yml and the testcontainers-go fallback must start the very
// same images, or tests would run against other brokers than the workshop.
func TestComposeFileUsesTheSameImages(t *testing.T) {
	compose, err := os.ReadFile("../../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, image := range []string{rabbitMQImage, zooKeeperImage} {
		if !strings.Contains(string(compose), "image: "+image+"\n") {
			t.Errorf("docker-compose.yml does not use the image %q that brokers.go uses", image)
		}
	}
}

// TestContainerOptions: brokertest's containers publish the broker's
// port on 127.0.0.1 only, as docker-compose.yml does (the brokers take
// the well-known guest/guest login), and carry the label that `make down`
// removes leftovers by.
func TestContainerOptions(t *testing.T) {
	var req testcontainers.GenericContainerRequest
	for _, opt := range containerOptions("5672/tcp", nil, "Server startup complete") {
		if err := opt.Customize(&req); err != nil {
			t.Fatal(err)
		}
	}
	if req.HostConfigModifier == nil {
		t.Fatal("the container's ports are published on every address, want 127.0.0.1 only")
	}
	var hc container.HostConfig
	req.HostConfigModifier(&hc)
	bindings := hc.PortBindings[network.MustParsePort("5672/tcp")]
	if len(bindings) != 1 || bindings[0].HostIP.String() != "127.0.0.1" || bindings[0].HostPort != "" {
		t.Errorf("5672/tcp is published as %+v, want once, on 127.0.0.1, on a port Docker picks", bindings)
	}
	if req.Labels[probe.ContainerLabel] == "" {
		t.Errorf("the container's labels %v lack %s", req.Labels, probe.ContainerLabel)
	}
}

// TestContainerErrorSaysWhatToDo: a broker test on a machine that cannot
// download images (the meetup's Wi-Fi) says which image, the reaper's
// included, and what to do.
func TestContainerErrorSaysWhatToDo(t *testing.T) {
	err := containerError(rabbitMQImage, errors.New(`generic container: reaper: new reaper: run container: create container: Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host`))
	for _, want := range []string{"testcontainers/ryuk:", "make pull", "make up", "registry-1.docker.io"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
}

// TestShortSkipsBrokerTests: go test -short leaves out every test on real
// brokers, even under HIVE_REQUIRE_BROKERS=1 and with the brokers there.
func TestShortSkipsBrokerTests(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChildShort$", "-test.short", "-test.v")
	cmd.Env = append(os.Environ(), childShortEnv+"=1", RequireEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- SKIP: TestChildShort") || !strings.Contains(string(out), "-short") {
		t.Errorf("under -short, a broker test = %v:\n%s\nwant it skipped, naming -short", err, out)
	}
}

const childShortEnv = "HIVETEST_CHILD_SHORT"

func TestChildShort(t *testing.T) {
	if os.Getenv(childShortEnv) == "" {
		return // a normal run: this test only works as a child process
	}
	RabbitMQ(t)
	ZooKeeper(t)
}

// TestAContainerThatDoesNotStartIsRemoved: testcontainers.Run returns the
// container with its error when it fails after creating it (here: the
// broker never logs what the wait strategy waits for); startContainer
// removes it, rather than leave it to Ryuk, which may be disabled. It
// needs a Docker engine with the broker's image.
func TestAContainerThatDoesNotStartIsRemoved(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a container: -short leaves it out")
	}
	if err := dockerRuns(t.Context()); err != nil {
		t.Skip("needs a Docker engine: ", err)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("needs the docker command, to list containers")
	}
	key, value := "hive-workshop.brokertest.test", hivetest.Namespace(t)
	opts := append(containerOptions("2181/tcp", nil, "a line that ZooKeeper never logs"),
		testcontainers.WithLabels(map[string]string{key: value}))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ctr, _, err := startContainer(ctx, "ZooKeeper", probe.ZooKeeper, zooKeeperImage, "2181/tcp", opts)
	if err == nil {
		testcontainers.TerminateContainer(ctr)
		t.Fatal("startContainer succeeded, although the broker never logs what it waits for")
	}
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label="+key+"="+value).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v: %s", err, out)
	}
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		exec.Command("docker", append([]string{"rm", "-f", "-v"}, ids...)...).Run()
		t.Errorf("the container that did not start is still there: %v", ids)
	}
}
