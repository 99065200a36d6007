// Package zookeeper is a registry.Registry on Apache ZooKeeper: the registry
// for real deployments, where instances run as separate processes.
//
// ZooKeeper keeps a tree of small nodes, called znodes, on a few servers,
// and tells clients when a node they watch changes. An instance is an
// ephemeral znode: it lives only as long as the session of the client that
// created it, so an instance that crashes disappears by itself once its
// session times out. The tree looks like this:
//
//	/<namespace>/services/<service>/<instance-id>   the Instance, as JSON
//
// Three things about ZooKeeper shape this package:
//
//   - A watch fires once. After every change the watcher reads again and sets
//     a new watch.
//   - A lost connection is not a lost session: the client reconnects and the
//     session, with its nodes and watches, goes on.
//   - A session that expires (the server heard nothing for the session
//     timeout) takes its ephemeral nodes with it. The client then gets a new
//     session, and the registry registers every instance again.
//   - Anyone may delete a node. The registry watches the node of each
//     instance it registered, and creates it again if it goes.
//
// Read the files in this order: zookeeper.go (New and Close), register.go
// (writing and reading instances), watch.go (watches that fire once), and
// session.go (what a new session needs, and the guard of each node).
package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

// Registry registers and watches instances in ZooKeeper. It is safe for
// concurrent use.
type Registry struct {
	conn     *zk.Conn
	root     string // "/<namespace>/services"
	logger   *slog.Logger
	sessions chan struct{} // gets a token whenever a session starts

	// mu is held while the registry writes to ZooKeeper or starts a watch,
	// so that writes never interleave and nothing starts after Close.
	mu         sync.Mutex
	registered map[string]registry.Instance // by node path: what to register again on a new session
	guards     map[string]chan struct{}     // by node path: closed to end the guard of the node (see guard)

	// records holds what the latest read of each service made of its
	// nodes, so that the next read reads only the nodes that changed.
	recordsMu sync.Mutex
	records   map[string]map[string]record // by service, then node name

	// skipped holds, by service and node, why the latest read of each
	// service left out a node: for Skipped, and so that each reason is
	// logged once rather than on every read of its service.
	skippedMu sync.Mutex
	skipped   map[string]map[string]string

	done chan struct{}  // closed by Close, under mu: ends the goroutines below
	wg   sync.WaitGroup // the session keeper, the watches and the guards
}

var (
	_ registry.Registry = (*Registry)(nil)
	_ registry.Skipper  = (*Registry)(nil)
)

// DefaultSessionTimeout is the session timeout hive asks for, and the one
// PROTOCOL.md recommends to peers: a crashed instance leaves the registry
// within it, and a pause shorter than it (a garbage collection, a slow
// network) costs nothing.
const DefaultSessionTimeout = 4 * time.Second

// Options tune a Registry, or a connection of Connect. A zero field takes
// its default.
type Options struct {
	// Namespace is the root of the registry's tree: it keeps its instances
	// under /<Namespace>/services. Default "hive". Connect has no use for it.
	Namespace string

	// Logger gets the log lines of the registry and of the zk client.
	// Default slog.Default(); for the zk client's lines, the default of
	// the moment each is logged.
	Logger *slog.Logger

	// SessionTimeout is how long the servers keep the session, and so the
	// ephemeral nodes, of a client they no longer hear from. The servers
	// round it into their own bounds (by default 2 to 20 ticks of 2s).
	// Default 4s.
	SessionTimeout time.Duration

	// ConnectTimeout is how long New and Connect wait for a first
	// session. Default 3s.
	ConnectTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = "hive"
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 3 * time.Second
	}
	return o
}

// logger returns o.Logger, or slog's default logger of the moment: a
// program may set that after it connected (env.Run does).
func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

// New connects to the ZooKeeper servers (host:port each) and returns a
// registry that keeps its instances under /<namespace>/services (see
// Options). New fails when no server gives it a session within the connect
// timeout, or when ctx ends first; ctx plays no part after New returns.
func New(ctx context.Context, servers []string, opts Options) (*Registry, error) {
	opts = opts.withDefaults()
	r := &Registry{
		root:       Root(servers, opts.Namespace) + "/services",
		logger:     opts.logger(),
		sessions:   make(chan struct{}, 1),
		registered: make(map[string]registry.Instance),
		guards:     make(map[string]chan struct{}),
		records:    make(map[string]map[string]record),
		skipped:    make(map[string]map[string]string),
		done:       make(chan struct{}),
	}
	conn, err := connect(ctx, servers, opts, r.onEvent)
	if err != nil {
		return nil, err
	}
	r.conn = conn
	<-r.sessions // connect saw the first session; onEvent has sent its token
	r.wg.Add(1)
	go r.keepRegistered(conn.SessionID())
	return r, nil
}

// Connect opens a ZooKeeper session of its own, for recipes that need the
// zk API itself, such as a leader election or step 5's ledger. Like New,
// it logs through opts.Logger, sends the zk client's lines there too, and
// fails, saying what to do, when no server answers in time. Close the
// connection when done: its ephemeral nodes go with it.
func Connect(ctx context.Context, servers []string, opts Options) (*zk.Conn, error) {
	return connect(ctx, servers, opts.withDefaults(), nil)
}

// SplitChroot splits a list of servers whose last one may end in a chroot
// path, as ZooKeeper's own clients take it ("h1:2181,h2:2181/apps/hive",
// split at the commas): the servers, and the chroot ("/apps/hive"), or ""
// for none. Every path of a client with a chroot is under it, so that
// several applications can share an ensemble.
func SplitChroot(servers []string) (hosts []string, chroot string, err error) {
	hosts = slices.Clone(servers)
	if len(hosts) == 0 {
		return nil, "", errors.New("zookeeper: no servers")
	}
	last := len(hosts) - 1
	if host, path, ok := strings.Cut(hosts[last], "/"); ok {
		hosts[last], chroot = host, "/"+strings.Trim(path, "/")
		if chroot == "/" {
			chroot = ""
		}
		if strings.Contains(chroot, "//") {
			return nil, "", fmt.Errorf("zookeeper: the chroot %q has an empty part", chroot)
		}
	}
	for _, h := range hosts {
		if h == "" || strings.Contains(h, "/") {
			return nil, "", fmt.Errorf("zookeeper: %q: want host:port,host:port,... with a chroot, if any, after the last (h1:2181,h2:2181/chroot)", strings.Join(servers, ","))
		}
	}
	return hosts, chroot, nil
}

// Root returns the path of namespace's tree on the servers:
// /<namespace>, under the chroot of servers if they name one (see
// SplitChroot). Everything hive and the workshop keep in ZooKeeper is
// under it.
func Root(servers []string, namespace string) string {
	_, chroot, _ := SplitChroot(servers) // connect reports a bad list
	if namespace == "" {
		namespace = "hive"
	}
	return chroot + "/" + strings.Trim(namespace, "/")
}

// connect dials the servers and waits for the first session. onEvent, if
// not nil, hears every session event, the first one included.
func connect(ctx context.Context, servers []string, opts Options, onEvent func(zk.Event)) (*zk.Conn, error) {
	hosts, _, err := SplitChroot(servers)
	if err != nil {
		return nil, err
	}
	servers = hosts
	first := make(chan struct{})
	var once sync.Once
	conn, _, err := zk.Connect(servers, opts.SessionTimeout,
		zk.WithLogger(zkLogger{opts}),
		zk.WithLogInfo(false), // the client's errors only; we log what matters
		zk.WithEventCallback(func(ev zk.Event) {
			if onEvent != nil {
				onEvent(ev)
			}
			if ev.State == zk.StateHasSession {
				once.Do(func() { close(first) })
			}
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("zookeeper: connect to %s: %w", strings.Join(servers, ","), err)
	}

	// zk.Connect returns at once and keeps trying in the background, forever.
	// A service should rather fail at start and say why.
	timer := time.NewTimer(opts.ConnectTimeout)
	defer timer.Stop()
	select {
	case <-first:
	case <-timer.C:
		conn.Close()
		if serving := noQuorum(ctx, servers); serving != "" {
			return nil, fmt.Errorf("zookeeper: no session within %v: ZooKeeper runs at %s, but the ensemble has no quorum: "+
				"a majority of its servers must run before it serves anybody. Start the ones that are down", opts.ConnectTimeout, serving)
		}
		return nil, fmt.Errorf("zookeeper: no server answers at %s within %v: run `make up`, or set HIVE_ZOOKEEPER",
			strings.Join(servers, ","), opts.ConnectTimeout)
	case <-ctx.Done():
		conn.Close()
		return nil, fmt.Errorf("zookeeper: no session with %s before %w: run `make up`, or set HIVE_ZOOKEEPER",
			strings.Join(servers, ","), ctx.Err())
	}
	opts.logger().Info("zookeeper: connected", "server", conn.Server(), "session", fmt.Sprintf("%#x", conn.SessionID()))
	return conn, nil
}

// noQuorum returns the servers that run but do not serve, for want of a
// quorum, as their answer to "srvr" says (the one four-letter command
// ZooKeeper allows by default): "" if there are none.
func noQuorum(ctx context.Context, servers []string) string {
	var running []string
	for _, addr := range servers {
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(time.Second))
		_, err = io.WriteString(c, "srvr")
		answer, _ := io.ReadAll(io.LimitReader(c, 4096))
		c.Close()
		if err == nil && strings.Contains(string(answer), "not currently serving requests") {
			running = append(running, addr)
		}
	}
	return strings.Join(running, ",")
}

// Close ends the session: the servers delete its instances at once, and the
// watch channels close.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.isClosed() {
		r.mu.Unlock()
		return nil
	}
	close(r.done)
	r.mu.Unlock()
	r.conn.Close()
	r.wg.Wait()
	return nil
}

func (r *Registry) isClosed() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *Registry) servicePath(service string) string { return r.root + "/" + service }

// zkLogger passes the zk client's log lines to slog. Left alone, the
// client writes them with the standard library's log package, straight to
// stderr.
type zkLogger struct{ opts Options }

func (l zkLogger) Printf(format string, args ...any) {
	l.opts.logger().Warn("zookeeper client: " + fmt.Sprintf(format, args...))
}

// DeleteNamespace deletes the whole tree of the registry's namespace, with
// whatever else lives there (elections, say). Tests use it to clean up
// after themselves; it is no part of the Registry interface.
func (r *Registry) DeleteNamespace(ctx context.Context) error {
	return DeleteTree(ctx, r.conn, path.Dir(r.root))
}
