package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// ZooKeeper is a Ledger in ZooKeeper, shared by every process that connects
// to the same servers with the same namespace. Each key is a persistent
// znode (one that outlives the session that made it) holding the value:
//
//	/<namespace>/ledger/orders/lunch-42   {"id": "7F3K", ...}
//	/<namespace>/ledger/cooked/7F3K       {"kitchen": "kitchen-1a2b3c4d", ...}
//
// Why ZooKeeper can do this: it creates a znode only if none of that name
// exists, and it does so atomically; of two clients that create the same
// znode at the same moment, one succeeds and the other gets "node exists",
// whichever servers they talk to. That is all a claim needs.
//
// Why only in a workshop: ZooKeeper keeps all its data in memory and is
// made for small amounts of coordination data, not for one record per
// order for ever. A real system would claim with a database: an INSERT
// into a table with a unique key does the same thing, and keeps years of
// orders.
type ZooKeeper struct {
	conn *zk.Conn
	root string // "/<namespace>/ledger"
}

var _ Ledger = (*ZooKeeper)(nil)

// sessionTimeout is how long ZooKeeper keeps the session after it last
// heard from the client. The ledger's znodes are persistent, so an expired
// session loses nothing: the client simply starts a new one.
const sessionTimeout = 4 * time.Second

// Dial connects to the ZooKeeper servers (host:port each) and returns the
// ledger of namespace ("hive" if empty), once it has a session. It fails if
// it gets none before ctx ends. The zk client's log lines go to logger, or
// to slog's default logger of the moment if logger is nil. Close the
// ledger when done.
func Dial(ctx context.Context, servers []string, namespace string, logger *slog.Logger) (*ZooKeeper, error) {
	if namespace == "" {
		namespace = "hive"
	}
	where := strings.Join(servers, ",")
	conn, events, err := zk.Connect(servers, sessionTimeout,
		zk.WithLogger(zkLogger{logger}), // the client's log lines go through slog...
		zk.WithLogInfo(false),           // ...and only its errors
	)
	if err != nil {
		return nil, fmt.Errorf("ledger: connect to ZooKeeper at %s: %w", where, err)
	}
	// zk.Connect returns at once and keeps trying in the background; wait
	// for a session, so that a ledger that cannot work fails here.
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go drain(events)
				return &ZooKeeper{conn: conn, root: "/" + namespace + "/ledger"}, nil
			}
		case <-ctx.Done():
			conn.Close()
			return nil, fmt.Errorf("ledger: no session with ZooKeeper at %s (%w): is it running? `make up` in the repository's top folder starts it",
				where, ctx.Err())
		}
	}
}

// drain reads the session events that nobody else wants, until the
// connection closes the channel. The client drops events that nobody
// reads, but reading them costs nothing and keeps it that way.
func drain(events <-chan zk.Event) {
	for range events {
	}
}

// Close ends the ledger's session. What it recorded stays.
func (l *ZooKeeper) Close() error {
	l.conn.Close()
	return nil
}

// Claim creates the znode of key holding value, unless it exists; see
// Ledger.
func (l *ZooKeeper) Claim(ctx context.Context, key string, value []byte) ([]byte, bool, error) {
	if err := CheckKey(key); err != nil {
		return nil, false, err
	}
	if value == nil {
		value = []byte{}
	}
	p := l.path(key)
	var existing []byte
	claimed := false
	err := do(ctx, func() error {
		_, err := l.conn.Create(p, value, 0, zk.WorldACL(zk.PermAll))
		if errors.Is(err, zk.ErrNoNode) {
			// The first claim in a folder: make the folder, then try again.
			if err := l.createFolders(path.Dir(p)); err != nil {
				return err
			}
			_, err = l.conn.Create(p, value, 0, zk.WorldACL(zk.PermAll))
		}
		switch {
		case err == nil:
			claimed = true
			return nil
		case errors.Is(err, zk.ErrNodeExists):
			// Somebody claimed it first. Nobody changes or deletes a
			// claim, so reading it now gives what they stored.
			existing, _, err = l.conn.Get(p)
			return err
		default:
			return err
		}
	})
	if err != nil {
		return nil, false, fmt.Errorf("ledger: claim %s: %w", key, err)
	}
	return existing, claimed, nil
}

// Get returns the value of key's znode; see Ledger.
func (l *ZooKeeper) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := CheckKey(key); err != nil {
		return nil, false, err
	}
	var value []byte
	found := true
	err := do(ctx, func() error {
		var err error
		value, _, err = l.conn.Get(l.path(key))
		if errors.Is(err, zk.ErrNoNode) {
			found = false
			return nil
		}
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("ledger: get %s: %w", key, err)
	}
	return value, found, nil
}

// List returns the children of folder's znode, with their values; see
// Ledger.
func (l *ZooKeeper) List(ctx context.Context, folder string) (map[string][]byte, error) {
	if err := CheckKey(folder); err != nil {
		return nil, err
	}
	list := make(map[string][]byte)
	err := do(ctx, func() error {
		names, _, err := l.conn.Children(l.path(folder))
		if errors.Is(err, zk.ErrNoNode) {
			return nil // nothing claimed in it yet
		}
		if err != nil {
			return err
		}
		for _, name := range names {
			value, _, err := l.conn.Get(l.path(folder + "/" + name))
			if err != nil {
				return err
			}
			list[name] = value
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: list %s: %w", folder, err)
	}
	return list, nil
}

// DeleteNamespace deletes /<namespace> with everything under it: the
// ledger, and the folders that hive's registry left there. Tests call it
// at the end, to leave ZooKeeper as they found it, once every service of
// the namespace has stopped.
func (l *ZooKeeper) DeleteNamespace(ctx context.Context) error {
	namespace := path.Dir(l.root)
	err := do(ctx, func() error { return l.deleteTree(namespace) })
	if err != nil {
		return fmt.Errorf("ledger: delete %s: %w", namespace, err)
	}
	return nil
}

func (l *ZooKeeper) deleteTree(p string) error {
	children, _, err := l.conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, child := range children {
		if err := l.deleteTree(p + "/" + child); err != nil {
			return err
		}
	}
	err = l.conn.Delete(p, -1) // -1: whatever its version
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return err
}

func (l *ZooKeeper) path(key string) string { return l.root + "/" + key }

// createFolders creates the znode p and its parents, those that do not
// exist yet. Another process may create the same ones at the same time;
// that is fine.
func (l *ZooKeeper) createFolders(p string) error {
	created := ""
	for word := range strings.SplitSeq(strings.TrimPrefix(p, "/"), "/") {
		created += "/" + word
		_, err := l.conn.Create(created, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	return nil
}

// do runs op, a few ZooKeeper calls, and returns its error, or ctx's error
// if ctx ends first. The zk client takes no context; its calls end on their
// own within a few seconds when no server answers, and op then finishes in
// the background, its result unread.
func do(ctx context.Context, op func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1) // buffered: op never waits for a reader that left
	go func() { done <- op() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// zkLogger passes the zk client's log lines to slog. Left alone, the client
// writes them with the standard library's log package, straight to stderr.
type zkLogger struct{ logger *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	logger := l.logger
	if logger == nil {
		// Looked up now, not at Dial: env.Run sets the default logger
		// after the ledger is connected.
		logger = slog.Default()
	}
	logger.Warn("zookeeper client (ledger): " + fmt.Sprintf(format, args...))
}
