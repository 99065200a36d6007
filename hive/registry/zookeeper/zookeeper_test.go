package zookeeper_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"
	"github.com/hive-workshop/microservices-go/hive/registry/registrytest"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

func TestRegistry(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) func() registry.Registry {
		servers, ns := brokertest.ZooKeeper(t), hivetest.Namespace(t)
		removeAfter(t, servers, "/"+ns)
		return func() registry.Registry { return newRegistry(t, servers, ns) }
	})
}

func TestInstanceIsAnEphemeralJSONNode(t *testing.T) {
	t.Parallel()
	servers, ns := brokertest.ZooKeeper(t), hivetest.Namespace(t)
	removeAfter(t, servers, "/"+ns)
	r := newRegistry(t, servers, ns)
	require.NoError(t, r.Register(t.Context(), menu1))

	path := "/" + ns + "/services/menu/menu-1"
	data, stat, err := inspector(t, servers).Get(path)
	require.NoError(t, err, "the instance must be stored at /<namespace>/services/<service>/<id>")
	assert.NotZero(t, stat.EphemeralOwner, "the instance's node must be ephemeral, so it goes when its process dies")
	assert.JSONEq(t, `{"id":"menu-1","service":"menu","endpoint":"127.0.0.1:8002","started":"0001-01-01T00:00:00Z"}`, string(data))
}

// A node that holds no instance, such as a record whose time has no
// offset (PROTOCOL.md), is skipped and logged once, not on every read.
func TestNodeWithoutInstanceIsSkippedAndLoggedOnce(t *testing.T) {
	t.Parallel()
	servers, ns := brokertest.ZooKeeper(t), hivetest.Namespace(t)
	removeAfter(t, servers, "/"+ns)
	r, logs := newLoggedRegistry(t, servers, ns)
	require.NoError(t, r.Register(t.Context(), menu1))
	naive := `{"id":"menu-2","service":"menu","endpoint":"127.0.0.1:8003","started":"2026-12-01T19:30:00.123456"}`
	_, err := inspector(t, servers).Create("/"+ns+"/services/menu/menu-2", []byte(naive), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	for range 3 {
		list, err := r.Instances(t.Context(), "menu")
		require.NoError(t, err)
		assert.Equal(t, []registry.Instance{menu1}, list, "the bad node must be skipped, and must not hide the good one")
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "skip a node that holds no usable record"), "logs:\n%s", logs.String())
}

func TestNamespaceDefaultsToHive(t *testing.T) {
	t.Parallel()
	servers := brokertest.ZooKeeper(t)
	service := hivetest.Namespace(t) // a service of its own keeps the shared "hive" namespace tidy
	removeAfter(t, servers, "/hive/services/"+service)
	r := newRegistry(t, servers, "")
	require.NoError(t, r.Register(t.Context(), registry.Instance{ID: service + "-1", Service: service, Endpoint: "127.0.0.1:8002"}))

	ok, _, err := inspector(t, servers).Exists("/hive/services/" + service + "/" + service + "-1")
	require.NoError(t, err)
	assert.True(t, ok, "with an empty namespace the instance must be under /hive/services")
}

// A process that stops gracefully closes its session; the servers delete its
// nodes at once, and a watcher on another connection sees the instance go
// long before a session timeout.
func TestStartAndStopAreSeenByAWatcher(t *testing.T) {
	t.Parallel()
	servers, ns := brokertest.ZooKeeper(t), hivetest.Namespace(t)
	removeAfter(t, servers, "/"+ns)
	watcher := newRegistry(t, servers, ns)
	w, err := watcher.Watch(t.Context(), "menu")
	require.NoError(t, err)
	registrytest.Expect(t, w, 5*time.Second)

	bee := newRegistry(t, servers, ns)
	require.NoError(t, bee.Register(t.Context(), menu1))
	registrytest.Expect(t, w, 5*time.Second, "menu-1")
	require.NoError(t, bee.Close())
	registrytest.Expect(t, w, 2*time.Second) // the session timeout is 4s
}

// An expired session loses its ephemeral nodes. The registry must notice
// the new session, register its instances again, and watch again.
func TestExpiredSessionRegistersAgain(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	servers, ns := brokertest.ZooKeeper(t), hivetest.Namespace(t)
	removeAfter(t, servers, "/"+ns)
	proxy := newProxy(t, servers)
	bee := newRegistry(t, []string{proxy.Addr()}, ns) // on a connection the test can cut
	watcher := newRegistry(t, servers, ns)

	require.NoError(t, bee.Register(ctx, menu1))
	fromWatcher, err := watcher.Watch(ctx, "menu")
	require.NoError(t, err)
	registrytest.Expect(t, fromWatcher, 5*time.Second, "menu-1")
	fromBee, err := bee.Watch(ctx, "menu")
	require.NoError(t, err)
	registrytest.Expect(t, fromBee, 5*time.Second, "menu-1")
	path := "/" + ns + "/services/menu/menu-1"
	oldOwner := owner(t, inspector(t, servers), path)

	// Cut the bee off until the servers expire its session (4s, checked
	// every 2s tick), which deletes its node; then let it reconnect.
	proxy.Cut()
	registrytest.Expect(t, fromWatcher, 15*time.Second)
	proxy.Restore()

	registrytest.Expect(t, fromWatcher, 15*time.Second, "menu-1")
	assert.NotEqual(t, oldOwner, owner(t, inspector(t, servers), path),
		"the instance came back, but its node still belongs to the expired session")
	require.NoError(t, watcher.Register(ctx, registry.Instance{ID: "menu-2", Service: "menu", Endpoint: "127.0.0.1:8012"}))
	registrytest.Expect(t, fromBee, 5*time.Second, "menu-1", "menu-2") // the bee's own watch was set again
}

// Junk in the registry cannot fill a caller's memory: a node over
// registry.MaxRecordBytes is skipped unread, and after a change a watch
// reads only the nodes that changed, not every record again.
func TestLargeNodesAreSkippedUnreadAndAChangeReadsOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	servers, ns := brokertest.ZooKeeper(t), hivetest.Namespace(t)
	removeAfter(t, servers, "/"+ns)
	proxy := newProxy(t, servers)
	caller, logs := newLoggedRegistry(t, []string{proxy.Addr()}, ns) // the proxy counts what it reads
	bees := newRegistry(t, servers, ns)
	require.NoError(t, bees.Register(ctx, menu1))

	const junk = 5
	direct := inspector(t, servers)
	for i := range junk {
		_, err := direct.Create(fmt.Sprintf("/%s/services/menu/junk-%d", ns, i), bytes.Repeat([]byte(" "), 900<<10), 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}
	w, err := caller.Watch(ctx, "menu")
	require.NoError(t, err)
	registrytest.Expect(t, w, 5*time.Second, "menu-1")

	before := proxy.FromTarget()
	want := []string{"menu-1"}
	for i := range 3 { // three instances join, one at a time
		id := fmt.Sprintf("menu-%d", i+2)
		require.NoError(t, bees.Register(ctx, registry.Instance{ID: id, Service: "menu", Endpoint: "127.0.0.1:8012", Started: time.Now()}))
		want = append(want, id)
		registrytest.Expect(t, w, 5*time.Second, want...)
	}
	read := proxy.FromTarget() - before
	t.Logf("3 instances joined: the caller read %d bytes from ZooKeeper", read)
	assert.Less(t, read, int64(registry.MaxRecordBytes), "3 instances joined, and the caller read %d bytes from ZooKeeper: it read the large nodes again", read)
	assert.Equal(t, junk, strings.Count(logs.String(), "bytes, over the limit of 65536 for a record"), "each large node must be logged once:\n%s", logs)
}

// Anyone may delete a node. A running instance whose node goes creates
// it again at once, without waiting for a new session: callers find it
// again.
func TestDeletedNodeIsCreatedAgain(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	servers, ns := brokertest.ZooKeeper(t), hivetest.Namespace(t)
	removeAfter(t, servers, "/"+ns)
	bee, logs := newLoggedRegistry(t, servers, ns)
	watcher := newRegistry(t, servers, ns)
	require.NoError(t, bee.Register(ctx, menu1))
	w, err := watcher.Watch(ctx, "menu")
	require.NoError(t, err)
	registrytest.Expect(t, w, 5*time.Second, "menu-1")

	path := "/" + ns + "/services/menu/menu-1"
	direct := inspector(t, servers)
	for range 2 { // and again: the node is watched anew each time
		deleted := time.Now()
		require.NoError(t, direct.Delete(path, -1))
		registrytest.Expect(t, w, 5*time.Second, "menu-1")
		t.Logf("the node came back %v after it was deleted", time.Since(deleted).Round(time.Millisecond))
		ok, _, err := direct.Exists(path)
		require.NoError(t, err)
		assert.True(t, ok, "the instance's node must be created again once someone deleted it")
	}
	assert.Contains(t, logs.String(), "the instance's node was deleted while it runs; registered it again")

	// Deregistered, it stays away.
	require.NoError(t, bee.Deregister(ctx, menu1))
	registrytest.Expect(t, w, 5*time.Second)
	ok, _, err := direct.Exists(path)
	require.NoError(t, err)
	assert.False(t, ok, "a deregistered instance must not come back")
}

// A short network break is not an expiry: the client reconnects within the
// session timeout, and the session goes on with its nodes and watches.
func TestDisconnectKeepsTheSession(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	servers, ns := brokertest.ZooKeeper(t), hivetest.Namespace(t)
	removeAfter(t, servers, "/"+ns)
	proxy := newProxy(t, servers)
	bee := newRegistry(t, []string{proxy.Addr()}, ns)
	other := newRegistry(t, servers, ns)

	require.NoError(t, bee.Register(ctx, menu1))
	fromBee, err := bee.Watch(ctx, "menu")
	require.NoError(t, err)
	registrytest.Expect(t, fromBee, 5*time.Second, "menu-1")
	path := "/" + ns + "/services/menu/menu-1"
	oldOwner := owner(t, inspector(t, servers), path)

	proxy.Cut()
	proxy.Restore()
	require.NoError(t, other.Register(ctx, registry.Instance{ID: "menu-2", Service: "menu", Endpoint: "127.0.0.1:8012"}))
	registrytest.Expect(t, fromBee, 5*time.Second, "menu-1", "menu-2") // the bee reconnected, its watch still set
	assert.Equal(t, oldOwner, owner(t, inspector(t, servers), path),
		"after a short break the instance's node must still belong to the same session")
}

func TestNewFailsFastWhenNothingListens(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // now nothing listens there

	var logs hivetest.Logs
	start := time.Now()
	r, err := zookeeper.New(t.Context(), []string{addr}, zookeeper.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	took := time.Since(start)

	require.Error(t, err, "New must fail when no ZooKeeper server answers")
	assert.Nil(t, r)
	assert.Contains(t, err.Error(), "no server answers at "+addr+" within 3s: run `make up`, or set HIVE_ZOOKEEPER",
		"the error must say what is wrong and what to do")
	assert.Less(t, took, 5*time.Second, "New must give up after its connect timeout of 3s, not retry for ever")
	assert.Contains(t, logs.String(), "failed to connect to "+addr, "the zk client's complaints must go to the given slog logger")
}

var menu1 = registry.Instance{ID: "menu-1", Service: "menu", Endpoint: "127.0.0.1:8002"}

// newLoggedRegistry is newRegistry with the registry's log lines kept.
func newLoggedRegistry(t *testing.T, servers []string, namespace string) (*zookeeper.Registry, *hivetest.Logs) {
	t.Helper()
	var logs hivetest.Logs
	r, err := zookeeper.New(t.Context(), servers, zookeeper.Options{Namespace: namespace, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r, &logs
}

// newProxy puts a proxy in front of the first of servers, for t.
func newProxy(t *testing.T, servers []string) *brokertest.Proxy {
	t.Helper()
	proxy, err := brokertest.NewProxy(servers[0])
	require.NoError(t, err)
	t.Cleanup(proxy.Close)
	return proxy
}

// newRegistry connects a registry for t, closed when t ends.
func newRegistry(t *testing.T, servers []string, namespace string) *zookeeper.Registry {
	t.Helper()
	r, err := zookeeper.New(t.Context(), servers, zookeeper.Options{Namespace: namespace, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// inspector is a plain zk connection for t, to look at the tree directly.
func inspector(t *testing.T, servers []string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(servers, 4*time.Second, zk.WithLogger(quiet{}))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	return conn
}

// owner returns the session that owns the ephemeral node at path.
func owner(t *testing.T, conn *zk.Conn, path string) int64 {
	t.Helper()
	_, stat, err := conn.Get(path)
	require.NoError(t, err, "read the node %s", path)
	require.NotZero(t, stat.EphemeralOwner, "the node %s must be ephemeral", path)
	return stat.EphemeralOwner
}

// removeAfter deletes the tree at path when t ends, after the registries
// have closed: persistent service nodes would otherwise pile up.
func removeAfter(t *testing.T, servers []string, path string) {
	t.Cleanup(func() {
		conn, _, err := zk.Connect(servers, 4*time.Second, zk.WithLogger(quiet{}))
		if err != nil {
			t.Errorf("clean up %s: %v", path, err)
			return
		}
		defer conn.Close()
		if err := zookeeper.DeleteTree(context.Background(), conn, path); err != nil {
			t.Errorf("clean up %s: %v", path, err)
		}
	})
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}
