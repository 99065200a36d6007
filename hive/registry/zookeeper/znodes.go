package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/go-zookeeper/zk"
)

// The helpers below work on a connection of Connect as well as on the
// registry's own: recipes that use znodes themselves (an election, a
// ledger) share them rather than write their own.

// CreatePath creates the persistent node p and the nodes above it, those
// that do not exist yet: ZooKeeper creates a node only under a parent that
// exists. Another client may be creating the same nodes at the same time,
// so a node that exists already is fine.
func CreatePath(conn *zk.Conn, p string) error {
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		_, err := conn.Create(p[:i], nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", p[:i], err)
		}
	}
	return nil
}

// DeleteTree deletes the node p and everything below it, children first.
// A node that is gone already is fine. The zk client takes no context, so
// ctx is checked before each node.
func DeleteTree(ctx context.Context, conn *zk.Conn, p string) error {
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
		if err := DeleteTree(ctx, conn, path.Join(p, child)); err != nil {
			return err
		}
	}
	if err := conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("zookeeper: delete %s: %w", p, err)
	}
	return nil
}
