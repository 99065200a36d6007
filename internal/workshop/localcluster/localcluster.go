// Package localcluster runs a 3-node RabbitMQ cluster and a 3-node
// ZooKeeper ensemble as plain processes on 127.0.0.1, from the Debian
// packages rabbitmq-server and zookeeper: what `make cluster` starts, and
// what the cluster fault tests kill and start again.
//
// Everything a cluster has is its own: ports (from Config.Base on), an
// Erlang port mapper (epmd) on a port of its own, node names, an Erlang
// cookie, and data directories under Config.Dir. It never touches the
// single brokers on 5672 and 2181 that `make up` and the tests use.
//
// The ports, for Base b and node i (1, 2, 3):
//
//	epmd                    b
//	RabbitMQ AMQP           b+i       (25801, 25802, 25803 for make cluster)
//	RabbitMQ distribution   b+10+i
//	ZooKeeper clients       b+20+i    (25821, 25822, 25823)
//	ZooKeeper peers         b+30+i and b+40+i (leader election)
//	RabbitMQ AMQP over TLS  b+50+i    (with Config.TLS only)
package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	probe "github.com/hive-workshop/microservices-go/internal/broker"
)

// Size is the number of nodes of each broker: the smallest cluster that
// keeps a majority when one node is down.
const Size = 3

// DefaultBase is the first port of `make cluster`'s cluster. Tests use
// bases of their own, so that they can run while it does.
const DefaultBase = 25800

// Where Debian installs the brokers. The scripts in /usr/sbin switch to the
// rabbitmq user and drop the environment that names a node; these do not.
const (
	rabbitBin    = "/usr/lib/rabbitmq/bin"
	zooKeeperJar = "/usr/share/java/zookeeper.jar"
	zooKeeperLog = "/etc/zookeeper/conf" // its log4j.properties
)

// cookie is the Erlang cookie of every local cluster: the nodes and
// rabbitmqctl show it to each other. It guards nothing (everything listens
// on 127.0.0.1) but keeps the nodes apart from other Erlang nodes.
const cookie = "HIVELOCALCLUSTER"

// Config says where a cluster lives.
type Config struct {
	Dir  string // data directories, logs and pid files go under it
	Base int    // the first port; see the package comment

	// TLS, if set, gives every RabbitMQ node a second listener, for
	// amqps:// (see AMQPSURLs), with this certificate.
	TLS *TLS
}

// TLS names the PEM files of a RabbitMQ node's TLS listener. The node asks
// clients for no certificate of theirs.
type TLS struct {
	CACert string // the CA that signed Cert
	Cert   string // the node's certificate, for 127.0.0.1
	Key    string // its private key, unencrypted
}

// A Cluster is a local cluster, started or not. Its methods are safe for
// concurrent use.
type Cluster struct {
	cfg Config
	mu  sync.Mutex // serializes starts and stops of nodes
}

// New returns the cluster of cfg, without starting anything.
func New(cfg Config) *Cluster {
	if cfg.Base == 0 {
		cfg.Base = DefaultBase
	}
	return &Cluster{cfg: cfg}
}

// Installed says what is missing to run a local cluster here, or nil.
func Installed() error {
	var missing []string
	if _, err := os.Stat(filepath.Join(rabbitBin, "rabbitmq-server")); err != nil {
		missing = append(missing, "rabbitmq-server")
	}
	if _, err := os.Stat(zooKeeperJar); err != nil {
		missing = append(missing, "zookeeper")
	}
	if _, err := exec.LookPath("java"); err != nil && len(missing) == 0 {
		missing = append(missing, "a Java runtime (default-jre-headless)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("a local cluster needs Debian's packages %s: sudo apt-get install rabbitmq-server zookeeper",
			strings.Join(missing, " and "))
	}
	return nil
}

// AMQPURLs are the AMQP URLs of the RabbitMQ nodes, node 1 first.
func (c *Cluster) AMQPURLs() []string {
	var urls []string
	for i := 1; i <= Size; i++ {
		urls = append(urls, fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", c.amqpPort(i)))
	}
	return urls
}

// AMQPSURLs are the amqps:// URLs of the RabbitMQ nodes' TLS listeners,
// node 1 first; nil unless Config.TLS is set.
func (c *Cluster) AMQPSURLs() []string {
	if c.cfg.TLS == nil {
		return nil
	}
	var urls []string
	for i := 1; i <= Size; i++ {
		urls = append(urls, fmt.Sprintf("amqps://guest:guest@127.0.0.1:%d/", c.amqpsPort(i)))
	}
	return urls
}

// ZooKeeperAddrs are the client addresses of the ZooKeeper nodes.
func (c *Cluster) ZooKeeperAddrs() []string {
	var addrs []string
	for i := 1; i <= Size; i++ {
		addrs = append(addrs, c.zkAddr(i))
	}
	return addrs
}

// Env returns the HIVE_* settings that point a service at the cluster.
// The names are hive/env's; they are spelled here because package env
// links both broker clients, which this tool has no other need for.
func (c *Cluster) Env() []string {
	return []string{
		"HIVE_AMQP_URL=" + strings.Join(c.AMQPURLs(), ","),
		"HIVE_ZOOKEEPER=" + strings.Join(c.ZooKeeperAddrs(), ","),
		"HIVE_QUEUE_TYPE=quorum",
	}
}

func (c *Cluster) amqpPort(i int) int  { return c.cfg.Base + i }
func (c *Cluster) distPort(i int) int  { return c.cfg.Base + 10 + i }
func (c *Cluster) amqpsPort(i int) int { return c.cfg.Base + 50 + i }
func (c *Cluster) zkPort(i int) int    { return c.cfg.Base + 20 + i }
func (c *Cluster) epmdPort() int       { return c.cfg.Base }
func (c *Cluster) zkAddr(i int) string { return "127.0.0.1:" + strconv.Itoa(c.zkPort(i)) }

// RabbitNode is the Erlang name of RabbitMQ node i, as rabbitmqctl and
// the management tools call it.
func (c *Cluster) RabbitNode(i int) string {
	return fmt.Sprintf("hive-rabbit-%d-%d@localhost", c.cfg.Base, i)
}

func (c *Cluster) rabbitDir(i int) string {
	return filepath.Join(c.cfg.Dir, "rabbitmq-"+strconv.Itoa(i))
}
func (c *Cluster) zkDir(i int) string { return filepath.Join(c.cfg.Dir, "zookeeper-"+strconv.Itoa(i)) }

// Start starts every node that is not running yet, joins the RabbitMQ
// nodes into one cluster, and waits until all of them serve clients, or
// ctx ends.
func (c *Cluster) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	var rabbitErr, zkErr error
	wg.Go(func() { rabbitErr = c.StartRabbitMQCluster(ctx) })
	wg.Go(func() { zkErr = c.StartZooKeeperEnsemble(ctx) })
	wg.Wait()
	return errors.Join(rabbitErr, zkErr)
}

// StartRabbitMQCluster starts the RabbitMQ nodes that are not running,
// joins them into one cluster, and waits until they serve clients.
func (c *Cluster) StartRabbitMQCluster(ctx context.Context) error {
	if err := Installed(); err != nil {
		return err
	}
	if err := c.each(func(i int) error { return c.StartRabbitMQ(ctx, i) }); err != nil {
		return err
	}
	for i := 2; i <= Size; i++ {
		if err := c.join(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// StartZooKeeperEnsemble starts the ZooKeeper nodes that are not running,
// and waits until they serve clients.
func (c *Cluster) StartZooKeeperEnsemble(ctx context.Context) error {
	if err := Installed(); err != nil {
		return err
	}
	return c.each(func(i int) error { return c.StartZooKeeper(ctx, i) })
}

// each runs f for every node at once.
func (c *Cluster) each(f func(i int) error) error {
	errs := make([]error, Size)
	var wg sync.WaitGroup
	for i := 1; i <= Size; i++ {
		wg.Go(func() { errs[i-1] = f(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stop stops every node, gently, and the cluster's epmd. Its data stays;
// Remove deletes it.
func (c *Cluster) Stop() error {
	var errs []error
	for i := 1; i <= Size; i++ {
		errs = append(errs, c.StopRabbitMQ(i, false), c.StopZooKeeper(i, false))
	}
	// The first node started an epmd of the cluster's own; it outlives
	// the nodes.
	cmd := exec.Command("epmd", "-kill")
	cmd.Env = append(os.Environ(), "ERL_EPMD_PORT="+strconv.Itoa(c.epmdPort()))
	_ = cmd.Run() // fails when it is not running: nothing to stop
	return errors.Join(errs...)
}

// Remove deletes the cluster's data directory; stop it first.
func (c *Cluster) Remove() error { return os.RemoveAll(c.cfg.Dir) }

// rabbitEnv is the environment of RabbitMQ node i and of rabbitmqctl
// talking to it.
func (c *Cluster) rabbitEnv(i int) []string {
	dir := c.rabbitDir(i)
	return append(os.Environ(),
		"HOME="+dir, // where the Erlang cookie is
		"ERL_EPMD_PORT="+strconv.Itoa(c.epmdPort()),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_NODENAME="+c.RabbitNode(i),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(c.amqpPort(i)),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(c.distPort(i)),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "data"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
		"PATH="+rabbitBin+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
}

// StartRabbitMQ starts RabbitMQ node i, unless it runs, and waits until
// it serves clients. A node that was in the cluster before joins it again
// by itself.
func (c *Cluster) StartRabbitMQ(ctx context.Context, i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir := c.rabbitDir(i)
	if c.running(filepath.Join(dir, "pid")) {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "log"), 0o755); err != nil {
		return err
	}
	files := map[string]string{
		".erlang.cookie": cookie,
		// guest may log in from 127.0.0.1, which is the only place the
		// node listens on.
		"rabbitmq.conf":   c.rabbitConf(i),
		"enabled_plugins": "[].\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		os.Remove(path) // the cookie is read-only
		if err := os.WriteFile(path, []byte(content), 0o400); err != nil {
			return err
		}
	}
	// Detached, the script starts the Erlang VM in the background and
	// returns; the VM writes its pid to RABBITMQ_PID_FILE.
	os.Remove(filepath.Join(dir, "pid"))
	if err := c.spawn(dir, "rabbitmq-server", c.rabbitEnv(i), false, filepath.Join(rabbitBin, "rabbitmq-server"), "-detached"); err != nil {
		return err
	}
	if _, err := c.rabbitmqctl(ctx, i, "wait", "--timeout", "120", filepath.Join(dir, "pid")); err != nil {
		return fmt.Errorf("RabbitMQ node %d did not start (its log: %s): %w", i, filepath.Join(dir, "log"), err)
	}
	url := c.AMQPURLs()[i-1]
	if st := probe.Wait(ctx, func(ctx context.Context) probe.Status { return probe.RabbitMQ(ctx, url) }); st.State != probe.Ready {
		return fmt.Errorf("RabbitMQ node %d does not serve clients: %s", i, st)
	}
	return nil
}

// rabbitConf is RabbitMQ node i's rabbitmq.conf.
func (c *Cluster) rabbitConf(i int) string {
	conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\nloopback_users = none\n", c.amqpPort(i))
	if t := c.cfg.TLS; t != nil {
		conf += fmt.Sprintf("listeners.ssl.default = 127.0.0.1:%d\n"+
			"ssl_options.cacertfile = %s\nssl_options.certfile = %s\nssl_options.keyfile = %s\n"+
			"ssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n",
			c.amqpsPort(i), t.CACert, t.Cert, t.Key)
	}
	return conf
}

// join makes RabbitMQ node i a member of node 1's cluster, unless it is.
func (c *Cluster) join(ctx context.Context, i int) error {
	out, err := c.rabbitmqctl(ctx, i, "cluster_status", "--formatter", "json")
	if err != nil {
		return err
	}
	if bytes.Contains(out, []byte(c.RabbitNode(1))) {
		return nil
	}
	for _, args := range [][]string{{"stop_app"}, {"join_cluster", c.RabbitNode(1)}, {"start_app"}} {
		if _, err := c.rabbitmqctl(ctx, i, args[0], args[1:]...); err != nil {
			return fmt.Errorf("RabbitMQ node %d cannot join the cluster: %w", i, err)
		}
	}
	return nil
}

// StopRabbitMQ stops RabbitMQ node i: gently, or at once (SIGKILL), as a
// crash or a pulled plug would.
func (c *Cluster) StopRabbitMQ(i int, kill bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return stop(filepath.Join(c.rabbitDir(i), "pid"), kill)
}

// Rabbitmqctl runs rabbitmqctl against RabbitMQ node i and returns its
// output.
func (c *Cluster) rabbitmqctl(ctx context.Context, i int, command string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(rabbitBin, "rabbitmqctl"),
		append([]string{"-n", c.RabbitNode(i), "--quiet", command}, args...)...)
	cmd.Env = c.rabbitEnv(i)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("rabbitmqctl %s: %w: %s", command, err, bytes.TrimSpace(out))
	}
	return out, nil
}

// StartZooKeeper starts ZooKeeper node i, unless it runs, and waits until
// it serves clients: until the ensemble has a quorum, which needs a second
// node.
func (c *Cluster) StartZooKeeper(ctx context.Context, i int) error {
	if err := c.SpawnZooKeeper(i); err != nil {
		return err
	}
	addr := c.zkAddr(i)
	if st := probe.Wait(ctx, func(ctx context.Context) probe.Status { return probe.ZooKeeper(ctx, addr) }); st.State != probe.Ready {
		return fmt.Errorf("ZooKeeper node %d does not serve clients (its log: %s): %s", i, filepath.Join(c.zkDir(i), "log"), st)
	}
	return nil
}

// SpawnZooKeeper starts ZooKeeper node i, unless it runs, and returns at
// once.
func (c *Cluster) SpawnZooKeeper(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir := c.zkDir(i)
	if c.running(filepath.Join(dir, "pid")) {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return err
	}
	// tickTime 1s, not 2s: a dead leader is noticed, and a new one
	// elected, in a couple of seconds.
	cfg := fmt.Sprintf(`tickTime=1000
initLimit=10
syncLimit=3
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok,stat,mntr
`, filepath.Join(dir, "data"), c.zkPort(i))
	for j := 1; j <= Size; j++ {
		cfg += fmt.Sprintf("server.%d=127.0.0.1:%d:%d\n", j, c.cfg.Base+30+j, c.cfg.Base+40+j)
	}
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "myid"), []byte(strconv.Itoa(i)+"\n"), 0o644); err != nil {
		return err
	}
	return c.spawn(dir, "zookeeper", os.Environ(), true, "java",
		"-Xmx128m", "-XX:+UseSerialGC", // three of them share a laptop
		"-Dzookeeper.log.dir="+filepath.Join(dir, "log"),
		"-cp", zooKeeperLog+string(os.PathListSeparator)+zooKeeperJar,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(dir, "zoo.cfg"))
}

// StopZooKeeper stops ZooKeeper node i: gently, or at once (SIGKILL).
func (c *Cluster) StopZooKeeper(i int, kill bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return stop(filepath.Join(c.zkDir(i), "pid"), kill)
}

// ZooKeeperLeader returns the node that leads the ensemble, or 0 if none
// does.
func (c *Cluster) ZooKeeperLeader(ctx context.Context) int {
	for i := 1; i <= Size; i++ {
		// srvr's answer has a line "Mode: leader", "follower" or
		// "standalone".
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp", c.zkAddr(i))
		if err != nil {
			continue
		}
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		_, err = io.WriteString(conn, "srvr")
		answer, _ := io.ReadAll(conn)
		conn.Close()
		if err == nil && strings.Contains(string(answer), "\nMode: leader") {
			return i
		}
	}
	return 0
}

// spawn starts a broker process in a session of its own, so that it
// outlives the program that started it (make cluster returns at once),
// with its output in dir/name.out, and, if writePid, writes its pid to
// dir/pid.
func (c *Cluster) spawn(dir, name string, env []string, writePid bool, path string, args ...string) error {
	out, err := os.OpenFile(filepath.Join(dir, name+".out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	pid := cmd.Process.Pid
	go cmd.Wait() // reap it, should it end while this program runs
	if !writePid {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// running reports whether the process in pidFile runs.
func (c *Cluster) running(pidFile string) bool {
	pid := readPid(pidFile)
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

func readPid(pidFile string) int {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// stop ends the process in pidFile and waits until it is gone: SIGTERM,
// and SIGKILL if it has not ended 30 seconds later, or at once if kill.
func stop(pidFile string, kill bool) error {
	pid := readPid(pidFile)
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return nil
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("stop process %d: %w", pid, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(time.Hour)
		}
		// A process that is not our child cannot be waited for: poll.
		// (One that is, spawn's goroutine reaps.)
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// ConnectedTo returns the RabbitMQ node (1, 2, 3) that holds a client
// connection named name (hive names its connections after the
// namespace), asking node ask, which must run.
func (c *Cluster) ConnectedTo(ctx context.Context, ask int, name string) (int, error) {
	byNode, err := c.Connections(ctx, ask, name)
	if err != nil {
		return 0, err
	}
	for i := 1; i <= Size; i++ {
		if byNode[i] > 0 {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no connection named %q", name)
}

// Connections counts the client connections named name on each RabbitMQ
// node, by node (1, 2, 3), asking node ask, which must run. A node that is
// down has none.
func (c *Cluster) Connections(ctx context.Context, ask int, name string) (map[int]int, error) {
	out, err := c.rabbitmqctl(ctx, ask, "list_connections", "pid", "client_properties")
	if err != nil {
		return nil, err
	}
	// A line is "<node.1234.5>\t[..., {"connection_name","<name>"}, ...]":
	// the connection's Erlang process, which names its node.
	byNode := make(map[int]int)
	for line := range strings.Lines(string(out)) {
		pid, props, _ := strings.Cut(strings.TrimSpace(line), "\t")
		if !strings.Contains(props, `{"connection_name","`+name+`"}`) {
			continue
		}
		if i := c.rabbitNodeOf(strings.TrimPrefix(pid, "<")); i > 0 {
			byNode[i]++
		}
	}
	return byNode, nil
}

// A QuorumQueue is where a quorum queue's members run.
type QuorumQueue struct {
	Leader int // the node (1, 2, 3) that leads it; 0 if none does
	Online int // how many of its members run
}

// QuorumQueues returns every quorum queue whose name starts with prefix,
// by name, asking RabbitMQ node ask, which must run.
func (c *Cluster) QuorumQueues(ctx context.Context, ask int, prefix string) (map[string]QuorumQueue, error) {
	out, err := c.rabbitmqctl(ctx, ask, "list_queues", "name", "type", "leader", "online")
	if err != nil {
		return nil, err
	}
	// A line is "name\tquorum\tleader@host\t[member@host,member@host]".
	queues := make(map[string]QuorumQueue)
	for line := range strings.Lines(string(out)) {
		fields := strings.Split(strings.TrimSpace(line), "\t")
		if len(fields) != 4 || fields[1] != "quorum" || !strings.HasPrefix(fields[0], prefix) {
			continue
		}
		queues[fields[0]] = QuorumQueue{Leader: c.rabbitNodeOf(fields[2]), Online: strings.Count(fields[3], "@")}
	}
	return queues, nil
}

// rabbitNodeOf returns the node (1, 2, 3) whose Erlang name s starts with,
// or 0.
func (c *Cluster) rabbitNodeOf(s string) int {
	for i := 1; i <= Size; i++ {
		if strings.HasPrefix(s, c.RabbitNode(i)) {
			return i
		}
	}
	return 0
}

// TestsEnv turns on the tests that start a cluster of their own (`make
// test-cluster` sets it to 1): each takes a minute or more.
const TestsEnv = "HIVE_CLUSTER_TESTS"

// ForTest returns a cluster for t, on ports from base on, with its data in
// a temporary folder, not started yet; it stops the cluster when t ends
// and removes its data, unless t failed (then it logs where the nodes'
// logs are). It skips t unless TestsEnv is 1, and fails it if the brokers'
// packages are missing.
func ForTest(t testing.TB, base int) *Cluster {
	t.Helper()
	if os.Getenv(TestsEnv) != "1" {
		t.Skipf("starts a cluster of its own, which takes a minute or more: %s=1 runs it (make test-cluster)", TestsEnv)
	}
	if err := Installed(); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "hive-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{Dir: dir, Base: base})
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("the nodes' logs are under %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return c
}
