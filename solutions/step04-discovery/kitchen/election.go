package main

// A leader election, the ZooKeeper way.
//
// Every candidate gets in line by creating a node under the election's
// path. The node is EPHEMERAL: it vanishes when the candidate's session
// ends. It is SEQUENTIAL: ZooKeeper appends a number to its name, one higher
// than any before it. The candidate with the lowest number leads. Every
// other candidate watches the node just before its own, and looks at the
// line again when that node goes:
//
//	/hive/elections/kitchen-report
//	    n_0000000001   leads
//	    n_0000000002   watches n_0000000001
//	    n_0000000003   watches n_0000000002
//
// When the leader goes, only the next in line wakes up. Were everybody to
// watch the leader, everybody would wake up at once to find that one of them
// won: the "herd effect", harmless with three kitchens, a storm with three
// thousand.

import (
	"context"
	"errors"
	"fmt"
	// BEGIN SOLUTION
	"path"
	// END SOLUTION
	"slices"

	"github.com/go-zookeeper/zk"
)

// A Candidate takes part in one leader election. It is not safe for
// concurrent use: call its methods from one goroutine.
type Candidate struct {
	conn *zk.Conn
	path string // the election, e.g. "/hive/elections/kitchen-report"; its children are the line
	id   string // who the candidate is; written into its node for people who look
	node string // the name of the candidate's node once it is in line, e.g. "n_0000000007"
}

// NewCandidate returns a candidate for the election at electionPath, on
// the ZooKeeper session of conn. Nothing happens until Campaign.
func NewCandidate(conn *zk.Conn, electionPath, id string) *Candidate {
	return &Candidate{conn: conn, path: electionPath, id: id}
}

// Campaign gets in line and returns nil once c leads. It returns an error
// when ctx ends first, or when ZooKeeper fails; then c is out of the line.
// After a Campaign that returned nil, Lost tells when the lead is lost; to
// lead again, Campaign again.
func (c *Candidate) Campaign(ctx context.Context) error {
	// A candidate that campaigns again gives up its old place first, if it
	// still has one.
	if err := c.Resign(); err != nil {
		return err
	}
	if err := c.waitInLine(ctx); err != nil {
		// Leave the line, so that nobody waits behind a node whose owner
		// gave up. If that fails too, the node goes when the session ends.
		c.Resign()
		return fmt.Errorf("election %s: %w", c.path, err)
	}
	return nil
}

// waitInLine gets c in line, and returns once c is first.
func (c *Candidate) waitInLine(ctx context.Context) error {
	node, err := c.join()
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	c.node = node
	for ctx.Err() == nil {
		line, err := c.line()
		if err != nil {
			return fmt.Errorf("read the line: %w", err)
		}
		if !slices.Contains(line, c.node) {
			return fmt.Errorf("node %q is not in the line %v: our session ended, or join did not return the node's name", c.node, line)
		}
		if line[0] == c.node { // the lowest number leads
			return nil
		}
		before := predecessor(line, c.node)
		if err := waitUntilGone(ctx, c.conn, c.path+"/"+before); err != nil {
			return fmt.Errorf("wait for %q: %w", before, err)
		}
		// The node before ours is gone. That does not make us the leader:
		// it may have left from the middle of the line. Look again.
	}
	return ctx.Err()
}

// join creates c's node in the election and returns its name: the last
// element of the path that ZooKeeper gives back, such as "n_0000000007".
func (c *Candidate) join() (string, error) {
	// TODO(step04) Task 2: create c's node under c.path, EPHEMERAL and SEQUENTIAL, named c.path+"/n_" and holding c.id, after making sure that c.path exists (createPath).
	// BEGIN SOLUTION
	if err := createPath(c.conn, c.path); err != nil {
		return "", err
	}
	created, err := c.conn.Create(c.path+"/n_", []byte(c.id), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return "", fmt.Errorf("create %s/n_: %w", c.path, err)
	}
	return path.Base(created), nil
	// STUB
	// return "", errors.New("TODO(step04) Task 2: create your ephemeral, sequential node in join (kitchen/election.go)")
	// END SOLUTION
}

// line returns the names of the nodes in the election, lowest number first.
func (c *Candidate) line() ([]string, error) {
	// TODO(step04) Task 2: list the children of c.path and sort them, lowest sequence number first.
	// BEGIN SOLUTION
	children, _, err := c.conn.Children(c.path)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", c.path, err)
	}
	// All names are "n_" and ten digits, so sorting the names sorts the
	// numbers.
	slices.Sort(children)
	return children, nil
	// STUB
	// return nil, errors.New("TODO(step04) Task 2: list and sort the nodes in line (kitchen/election.go)")
	// END SOLUTION
}

// predecessor returns the node just before node in line: the one to watch.
// line is sorted, holds node, and node is not the first.
func predecessor(line []string, node string) string {
	// TODO(step04) Task 3: return the node just before node in line (not the first in line: that would wake everybody at once).
	// BEGIN SOLUTION
	i := slices.Index(line, node)
	return line[i-1]
	// STUB
	// return ""
	// END SOLUTION
}

// waitUntilGone returns nil once the node at nodePath no longer exists
// (right away if it is gone already), or an error when ctx ends first or
// the watch breaks.
func waitUntilGone(ctx context.Context, conn *zk.Conn, nodePath string) error {
	// TODO(step04) Task 3: watch nodePath with conn.ExistsW, then wait for the watch to fire or ctx to end.
	// BEGIN SOLUTION
	exists, _, changed, err := conn.ExistsW(nodePath)
	if err != nil {
		return fmt.Errorf("watch %s: %w", nodePath, err)
	}
	if !exists {
		return nil
	}
	select {
	case ev := <-changed:
		// A watch fires once, for whatever happened first: the node went
		// (EventNodeDeleted), its data changed, or our session ended
		// (ev.Err says so). Only the last one is trouble; in the other
		// cases the caller looks at the line again and, if need be,
		// watches again.
		return ev.Err
	case <-ctx.Done():
		return ctx.Err()
	}
	// STUB
	// return errors.New("TODO(step04) Task 3: watch the node before yours in waitUntilGone (kitchen/election.go)")
	// END SOLUTION
}

// Lost returns a channel that is closed when c no longer leads: its node is
// gone, because c resigned or its session ended, or ZooKeeper cannot say
// whether it is still there. Call it after Campaign returned nil.
func (c *Candidate) Lost() <-chan struct{} {
	lost := make(chan struct{})
	node := c.path + "/" + c.node
	go func() {
		defer close(lost)
		for {
			exists, _, changed, err := c.conn.ExistsW(node)
			if err != nil || !exists {
				return // when in doubt, we do not lead: two leaders are worse than none for a moment
			}
			if ev := <-changed; ev.Type == zk.EventNodeDeleted || ev.Err != nil {
				return
			}
			// Something else changed the node; it is still ours. Watch again.
		}
	}()
	return lost
}

// Resign leaves the election: it deletes c's node, so that the next in
// line leads at once, without waiting for c's session to end.
func (c *Candidate) Resign() error {
	if c.node == "" {
		return nil
	}
	err := c.conn.Delete(c.path+"/"+c.node, -1)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("election %s: resign %s: %w", c.path, c.node, err)
	}
	c.node = ""
	return nil
}

// createPath creates the persistent node p and the nodes above it, those
// that do not exist yet. ZooKeeper creates a node only under a parent that
// exists, and another candidate may be creating the same nodes right now:
// "exists already" is fine.
func createPath(conn *zk.Conn, p string) error {
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		_, err := conn.Create(p[:i], nil, zk.FlagPersistent, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", p[:i], err)
		}
	}
	return nil
}
