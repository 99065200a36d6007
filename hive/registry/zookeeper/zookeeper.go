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
package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

	// mu is held while the registry writes to ZooKeeper, so that writes
	// never interleave and none starts after Close.
	mu         sync.Mutex
	registered map[string]registry.Instance // by node path: what to register again on a new session

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
// ends first.
func New(ctx context.Context, servers []string, namespace string, logger *slog.Logger, opts ...Option) (*Registry, error) {
	o := options{sessionTimeout: 4 * time.Second, connectTimeout: 3 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
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
		done:       make(chan struct{}),
	}
	conn, _, err := zk.Connect(servers, o.sessionTimeout,
		zk.WithLogger(zkLogger{logger}),
		zk.WithLogInfo(false), // the client's errors only; the registry logs what matters
		zk.WithEventCallback(r.onEvent),
	)
	if err != nil {
		return nil, fmt.Errorf("zookeeper: connect to %s: %w", strings.Join(servers, ","), err)
	}
	r.conn = conn

	// zk.Connect returns at once and keeps trying in the background, forever.
	// A service should rather fail at start and say why.
	timer := time.NewTimer(o.connectTimeout)
	defer timer.Stop()
	select {
	case <-r.sessions:
	case <-timer.C:
		conn.Close()
		return nil, fmt.Errorf("zookeeper: no server answers at %s within %v: run `make up`, or set HIVE_ZOOKEEPER",
			strings.Join(servers, ","), o.connectTimeout)
	case <-ctx.Done():
		conn.Close()
		return nil, fmt.Errorf("zookeeper: connect to %s: %w", strings.Join(servers, ","), ctx.Err())
	}
	r.wg.Add(1)
	go r.keepRegistered(conn.SessionID())
	return r, nil
}

// onEvent is called by the zk client for every session event. It must not
// block, so it only drops a token for keepRegistered (or New).
func (r *Registry) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		select {
		case r.sessions <- struct{}{}:
		default: // a token is already waiting
		}
	case zk.StateExpired:
		r.logger.Warn("zookeeper: session expired; registering again on the next session")
	}
}

// keepRegistered registers every instance again each time the client gets a
// new session, until Close. A reconnect within the same session needs nothing:
// its nodes are still there.
func (r *Registry) keepRegistered(session int64) {
	defer r.wg.Done()
	var retry <-chan time.Time
	for {
		select {
		case <-r.done:
			return
		case <-r.sessions:
		case <-retry:
		}
		retry = nil
		id := r.conn.SessionID()
		if id == 0 || id == session { // no session right now, or the same one
			continue
		}
		if err := r.registerAll(); err != nil {
			r.logger.Warn("zookeeper: register again on the new session", "err", err)
			retry = time.After(time.Second)
			continue
		}
		session = id
		r.logger.Info("zookeeper: registered again on a new session", "session", fmt.Sprintf("%#x", id))
	}
}

func (r *Registry) registerAll() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isClosed() {
		return nil
	}
	for path, inst := range r.registered {
		if err := r.create(path, inst); err != nil {
			return err
		}
	}
	return nil
}

// Register creates the ephemeral node of inst, replacing a node of the same
// ID, and registers it again on every new session until Deregister.
func (r *Registry) Register(ctx context.Context, inst registry.Instance) error {
	if err := inst.Validate(); err != nil {
		return fmt.Errorf("zookeeper: register: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("zookeeper: register %s: %w", inst.ID, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isClosed() {
		return registry.ErrClosed
	}
	path := r.servicePath(inst.Service) + "/" + inst.ID
	if err := r.create(path, inst); err != nil {
		return fmt.Errorf("zookeeper: register %s: %w", inst.ID, err)
	}
	r.registered[path] = inst
	return nil
}

// create writes inst to the ephemeral node at path. A node of the same ID
// may exist: an earlier record, or the node of an expired session that the
// server has not removed yet. create deletes it first. r.mu must be held.
func (r *Registry) create(path string, inst registry.Instance) error {
	data, err := json.Marshal(inst)
	if err != nil {
		return err
	}
	if err := r.conn.Delete(path, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	_, err = r.conn.Create(path, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	if errors.Is(err, zk.ErrNoNode) { // the first instance of its service: create the parents
		if err := r.createParents(path); err != nil {
			return err
		}
		_, err = r.conn.Create(path, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	}
	return err
}

// createParents creates the persistent nodes above path. Another client may
// be creating them at the same time, so one that exists already is fine.
func (r *Registry) createParents(path string) error {
	for i := 1; i < len(path); i++ {
		if path[i] != '/' {
			continue
		}
		_, err := r.conn.Create(path[:i], nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", path[:i], err)
		}
	}
	return nil
}

// Deregister deletes the node of inst at once, so watchers see it go now
// rather than when a session times out.
func (r *Registry) Deregister(ctx context.Context, inst registry.Instance) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isClosed() {
		return registry.ErrClosed
	}
	path := r.servicePath(inst.Service) + "/" + inst.ID
	delete(r.registered, path)
	if err := r.conn.Delete(path, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("zookeeper: deregister %s: %w", inst.ID, err)
	}
	return nil
}

// Services returns the names of the services that have instances, sorted.
// A service node stays when its last instance goes, so Services counts
// the children of each.
func (r *Registry) Services(ctx context.Context) ([]string, error) {
	if r.isClosed() {
		return nil, registry.ErrClosed
	}
	names, _, err := r.conn.Children(r.root)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zookeeper: services: %w", err)
	}
	var services []string
	for _, name := range names {
		_, stat, err := r.conn.Exists(r.servicePath(name))
		if err != nil {
			return nil, fmt.Errorf("zookeeper: services: %w", err)
		}
		if stat.NumChildren > 0 {
			services = append(services, name)
		}
	}
	slices.Sort(services)
	return services, nil
}

// Instances returns the instances of service, sorted by ID.
func (r *Registry) Instances(ctx context.Context, service string) ([]registry.Instance, error) {
	if r.isClosed() {
		return nil, registry.ErrClosed
	}
	path := r.servicePath(service)
	ids, _, err := r.conn.Children(path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zookeeper: instances of %s: %w", service, err)
	}
	list, err := r.read(path, ids)
	if err != nil {
		return nil, fmt.Errorf("zookeeper: instances of %s: %w", service, err)
	}
	return list, nil
}

// read returns the instances in the nodes ids under path, sorted by ID.
func (r *Registry) read(path string, ids []string) ([]registry.Instance, error) {
	slices.Sort(ids)
	var list []registry.Instance
	for _, id := range ids {
		data, _, err := r.conn.Get(path + "/" + id)
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone since we listed it
		}
		if err != nil {
			return nil, err
		}
		var inst registry.Instance
		if err := json.Unmarshal(data, &inst); err != nil {
			// One bad node must not hide all the good ones.
			r.logger.Warn("zookeeper: skip a node that holds no instance", "path", path+"/"+id, "err", err)
			continue
		}
		list = append(list, inst)
	}
	return list, nil
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
