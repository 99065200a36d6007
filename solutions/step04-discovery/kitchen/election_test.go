package main

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

// deadline is how long a test waits for something that should happen.
const deadline = 5 * time.Second

// newElection returns a network on a real ZooKeeper, in a namespace of
// the test's own, and the path of an election in that namespace. The
// network deletes the namespace, election and all, when the test ends.
// It skips the test when ZooKeeper does not run.
func newElection(t *testing.T) (*hivetest.Network, string) {
	t.Helper()
	n := brokertest.NewZooKeeperNetwork(t)
	return n, "/" + n.Namespace + "/elections/test"
}

// zkConn opens a ZooKeeper session of its own for the test, as a kitchen
// does, and closes it when the test ends. Its log lines go with those of
// n, which a failing test prints.
func zkConn(t *testing.T, n *hivetest.Network) *zk.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	conn, err := zookeeper.Connect(ctx, brokertest.ZooKeeper(t), zookeeper.Options{Logger: n.Config().Logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// A campaign is a Campaign running in the background.
type campaign struct {
	id   string
	done chan struct{} // closed when Campaign has returned
	err  error         // what Campaign returned; read it after done
}

// campaignInBackground starts c.Campaign(ctx).
func campaignInBackground(ctx context.Context, c *Candidate) *campaign {
	cp := &campaign{id: c.id, done: make(chan struct{})}
	go func() {
		defer close(cp.done)
		cp.err = c.Campaign(ctx)
	}()
	return cp
}

// waitForLine waits until the election has count nodes in line. The
// campaigns given must go on waiting meanwhile: it fails if one returns.
func waitForLine(t *testing.T, conn *zk.Conn, election string, count int, waiting ...*campaign) {
	t.Helper()
	stop := make(chan struct{})
	defer close(stop)
	returned := make(chan *campaign, len(waiting))
	for _, cp := range waiting {
		go func() {
			select {
			case <-cp.done:
				returned <- cp
			case <-stop:
			}
		}()
	}

	timeout := time.After(deadline)
	for {
		children, _, changed, err := conn.ChildrenW(election)
		if errors.Is(err, zk.ErrNoNode) {
			_, _, changed, err = conn.ExistsW(election)
		}
		if err != nil {
			t.Fatalf("Task 3: look at the line of %s: %v", election, err)
		}
		if len(children) == count {
			return
		}
		select {
		case <-changed:
		case cp := <-returned:
			t.Fatalf("Task 3: candidate %s must wait in line, but its Campaign returned: %v", cp.id, cp.err)
		case <-timeout:
			t.Fatalf("Task 3: waited %v for %d candidates in line, but the line is %v", deadline, count, children)
		}
	}
}

func TestTask2_TheFirstCandidateLeads(t *testing.T) {
	n, election := newElection(t)
	conn := zkConn(t, n)
	c := NewCandidate(conn, election, "kitchen-a")

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := c.Campaign(ctx); err != nil {
		t.Fatalf("Task 2: the only candidate of an election must lead, but Campaign failed: %v", err)
	}

	children, _, err := conn.Children(election)
	if err != nil {
		t.Fatalf("Task 2: after Campaign, the election %s must exist with a node in it: %v", election, err)
	}
	if len(children) != 1 {
		t.Fatalf("Task 2: after one candidate joined, the election must have one node; it has %v", children)
	}
	name := children[0]
	if !regexp.MustCompile(`^n_\d{10}$`).MatchString(name) {
		t.Fatalf("Task 2: the node is called %q, but it should be n_ and a 10-digit number. "+
			"Create c.path+\"/n_\" with the flag zk.FlagSequence, and ZooKeeper appends the number.", name)
	}
	data, stat, err := conn.Get(election + "/" + name)
	if err != nil {
		t.Fatalf("Task 2: read node %s: %v", name, err)
	}
	if stat.EphemeralOwner != conn.SessionID() {
		t.Fatalf("Task 2: node %s is not ephemeral, so it would stay in line after its kitchen crashed. "+
			"Create it with the flags zk.FlagEphemeral|zk.FlagSequence.", name)
	}
	if string(data) != "kitchen-a" {
		t.Errorf("Task 2: node %s holds %q; write c.id (%q) into it, so that whoever looks sees who is in line", name, data, "kitchen-a")
	}
}

func TestTask2_TheLineIsInOrder(t *testing.T) {
	n, election := newElection(t)
	conn := zkConn(t, n)

	// Five candidates get in line, one after the other, so their numbers
	// go up. ZooKeeper lists children in no particular order.
	var candidates []*Candidate
	var want []string
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		c := NewCandidate(conn, election, id)
		node, err := c.join()
		if err != nil {
			t.Fatalf("Task 2: join the election: %v", err)
		}
		c.node = node
		candidates = append(candidates, c)
		want = append(want, node)
	}
	if !slices.IsSorted(want) || len(slices.Compact(slices.Clone(want))) != len(want) {
		t.Fatalf("Task 2: join returned the nodes %v; each must be a new node, n_ and a number that goes up: the name that Create returns, without the path", want)
	}

	got, err := candidates[4].line()
	if err != nil {
		t.Fatalf("Task 2: line failed: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Task 2: line returned %v, want %v: all the nodes of the election, lowest number first. "+
			"The first in line leads, so the order matters.", got, want)
	}
}

func TestTask3_EachCandidateWatchesTheOneJustBeforeIt(t *testing.T) {
	line := []string{"n_0000000003", "n_0000000007", "n_0000000008", "n_0000000012"}
	for i, node := range line[1:] {
		if got, want := predecessor(line, node), line[i]; got != want {
			t.Fatalf("Task 3: in the line %v, %s must watch %s, the node just before it; predecessor returned %q. "+
				"(Watching the first in line works too, but then all candidates wake up whenever the leader goes: the herd effect.)",
				line, node, want, got)
		}
	}
}

func TestTask3_TheNextInLineTakesOver(t *testing.T) {
	n, election := newElection(t)
	connA, connB, connC := zkConn(t, n), zkConn(t, n), zkConn(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	a := NewCandidate(connA, election, "a")
	if err := a.Campaign(ctx); err != nil {
		t.Fatalf("Task 3: the first candidate could not lead (finish Task 2 first): %v", err)
	}
	aLost := a.Lost()
	b := campaignInBackground(ctx, NewCandidate(connB, election, "b"))
	waitForLine(t, connA, election, 2, b)
	c := campaignInBackground(ctx, NewCandidate(connC, election, "c"))
	waitForLine(t, connA, election, 3, b, c)

	// c, the last in line, goes: nothing changes for a and b.
	connC.Close()
	select {
	case <-c.done:
		if c.err == nil {
			t.Fatalf("Task 3: c led, although a still leads")
		}
	case <-time.After(deadline):
		t.Fatalf("Task 3: c's session ended, but its Campaign still waits after %v. "+
			"When the watch fires with an error (ev.Err), waitUntilGone must return it.", deadline)
	}
	waitForLine(t, connA, election, 2, b)
	select {
	case <-aLost:
		t.Fatalf("Task 3: a lost the lead when c, the last in line, went")
	default:
	}

	// a, the leader, goes: b is next in line and leads.
	connA.Close()
	select {
	case <-b.done:
		if b.err != nil {
			t.Fatalf("Task 3: a's session ended, so b, next in line, must lead; its Campaign failed: %v", b.err)
		}
	case <-time.After(deadline):
		t.Fatalf("Task 3: a's session ended, but b, next in line, did not lead within %v. "+
			"waitUntilGone must watch the node with ExistsW and return when the watch fires.", deadline)
	}
	select {
	case <-aLost:
	case <-time.After(deadline):
		t.Fatalf("Task 3: a's session ended, but a.Lost() is still open after %v", deadline)
	}
}

func TestTask3_GivingUpLeavesTheLine(t *testing.T) {
	n, election := newElection(t)
	connA, connB := zkConn(t, n), zkConn(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	a := NewCandidate(connA, election, "a")
	if err := a.Campaign(ctx); err != nil {
		t.Fatalf("Task 3: the first candidate could not lead (finish Task 2 first): %v", err)
	}
	bCtx, giveUp := context.WithCancel(ctx)
	b := campaignInBackground(bCtx, NewCandidate(connB, election, "b"))
	waitForLine(t, connA, election, 2, b)

	giveUp()
	select {
	case <-b.done:
		if !errors.Is(b.err, context.Canceled) {
			t.Fatalf("Task 3: b gave up waiting (its context was canceled), so its Campaign must fail with context.Canceled; got %v", b.err)
		}
	case <-time.After(deadline):
		t.Fatalf("Task 3: b gave up waiting (its context was canceled), but its Campaign still waits after %v. "+
			"waitUntilGone must wait for the watch or for ctx.Done(), whichever comes first.", deadline)
	}
	waitForLine(t, connA, election, 1) // b left the line
}
