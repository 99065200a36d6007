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
//
// Read the files in this order: zookeeper.go (New and Close), register.go
// (writing and reading instances), watch.go (watches that fire once), and
// session.go (what a new session needs).
package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
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

	// skipped holds the nodes that hold no instance, with why, so that
	// each is logged once rather than on every read of its service.
	skippedMu sync.Mutex
	skipped   map[string]string // by node path

	done chan struct{}  // closed by Close, under mu: ends the goroutines below
	wg   sync.WaitGroup // the session keeper and the watches
}

var _ registry.Registry = (*Registry)(nil)

// Option changes a default of New.
type Option func(*options)

type options struct {
	sessionTimeout time.Duration
	connectTimeout time.Duration
}

// WithSessionTimeout sets how long the servers keep the session, and so the
// instances, of a client they no longer hear from. The default is 4s; the
// servers round it into their own bounds (by default 2 to 20 ticks of 2s).
func WithSessionTimeout(d time.Duration) Option {
	return func(o *options) { o.sessionTimeout = d }
}

// WithConnectTimeout sets how long New waits for a first session. The
// default is 3s.
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) { o.connectTimeout = d }
}

// New connects to the ZooKeeper servers (host:port each) and returns a
// registry that keeps its instances under /<namespace>/services. An empty
// namespace means "hive"; a nil logger means slog.Default(). New fails
// when no server gives it a session within the connect timeout, or when ctx
// ends first; ctx plays no part after New returns.
func New(ctx context.Context, servers []string, namespace string, logger *slog.Logger, opts ...Option) (*Registry, error) {
	if namespace == "" {
		namespace = "hive"
	}
	if logger == nil {
		logger = slog.Default()
	}
	r := &Registry{
		root:       "/" + strings.Trim(namespace, "/") + "/services",
		logger:     logger,
		sessions:   make(chan struct{}, 1),
		registered: make(map[string]registry.Instance),
		skipped:    make(map[string]string),
		done:       make(chan struct{}),
	}
	conn, err := connect(ctx, servers, logger, r.onEvent, opts)
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
// zk API itself, such as a leader election. Like New, it logs through
// logger and fails, saying what to do, when no server answers in time.
// Close the connection when done: its ephemeral nodes go with it.
func Connect(ctx context.Context, servers []string, logger *slog.Logger, opts ...Option) (*zk.Conn, error) {
	if logger == nil {
		logger = slog.Default()
	}
	return connect(ctx, servers, logger, nil, opts)
}

// connect dials the servers and waits for the first session. onEvent, if
// not nil, hears every session event, the first one included.
func connect(ctx context.Context, servers []string, logger *slog.Logger, onEvent func(zk.Event), opts []Option) (*zk.Conn, error) {
	o := options{sessionTimeout: 4 * time.Second, connectTimeout: 3 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	first := make(chan struct{})
	var once sync.Once
	conn, _, err := zk.Connect(servers, o.sessionTimeout,
		zk.WithLogger(zkLogger{logger}),
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
	timer := time.NewTimer(o.connectTimeout)
	defer timer.Stop()
	select {
	case <-first:
	case <-timer.C:
		conn.Close()
		return nil, fmt.Errorf("zookeeper: no server answers at %s within %v: run `make up`, or set HIVE_ZOOKEEPER",
			strings.Join(servers, ","), o.connectTimeout)
	case <-ctx.Done():
		conn.Close()
		return nil, fmt.Errorf("zookeeper: connect to %s: %w", strings.Join(servers, ","), ctx.Err())
	}
	logger.Info("zookeeper: connected", "server", conn.Server(), "session", fmt.Sprintf("%#x", conn.SessionID()))
	return conn, nil
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

// zkLogger passes the zk client's log lines to slog.
type zkLogger struct{ logger *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.logger.Warn("zookeeper client: " + fmt.Sprintf(format, args...))
}

// DeleteNamespace deletes the whole tree of the registry's namespace, with
// whatever else lives there (elections, say). Tests use it to clean up
// after themselves; it is no part of the Registry interface.
func (r *Registry) DeleteNamespace(ctx context.Context) error {
	return deleteTree(ctx, r.conn, path.Dir(r.root))
}

// deleteTree deletes p and everything below it, children first.
func deleteTree(ctx context.Context, conn *zk.Conn, p string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	children, _, err := conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("zookeeper: delete %s: %w", p, err)
	}
	for _, child := range children {
		if err := deleteTree(ctx, conn, path.Join(p, child)); err != nil {
			return err
		}
	}
	if err := conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("zookeeper: delete %s: %w", p, err)
	}
	return nil
}
