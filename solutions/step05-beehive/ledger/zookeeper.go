package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"

	"github.com/go-zookeeper/zk"

	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
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

// Dial connects to the ZooKeeper servers (host:port each) and returns the
// ledger of namespace ("hive" if empty), once it has a session. It fails if
// it gets none in time, or before ctx ends. The zk client's log lines go to
// logger, or to slog's default logger of the moment if logger is nil.
// Close the ledger when done.
//
// The ledger has a session of its own, opened as hive's registry opens
// its session (zookeeper.Connect): the same timeouts, the same logging,
// the same error when ZooKeeper is not running. Its znodes are
// persistent, so an expired session loses nothing: the client simply
// starts a new one.
func Dial(ctx context.Context, servers []string, namespace string, logger *slog.Logger) (*ZooKeeper, error) {
	if namespace == "" {
		namespace = "hive"
	}
	conn, err := zookeeper.Connect(ctx, servers, zookeeper.Options{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return &ZooKeeper{conn: conn, root: zookeeper.Root(servers, namespace) + "/ledger"}, nil
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
			if err := zookeeper.CreatePath(l.conn, path.Dir(p)); err != nil {
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
	if err := zookeeper.DeleteTree(ctx, l.conn, namespace); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

func (l *ZooKeeper) path(key string) string { return l.root + "/" + key }

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
