package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

// BenchmarkDiscovery measures how long it takes from the moment an instance
// starts registering until a watcher on another ZooKeeper connection sees
// it: with hive's registry, and with go-zookeeper directly, doing the same
// (an ephemeral node holding the instance as JSON; a watch on the list of
// nodes, which the watcher reads again, node by node, every time it
// fires). It reports the p50 and p99 in ms.
func BenchmarkDiscovery(b *testing.B) {
	impls := []struct {
		name  string
		start func(b *testing.B) discovery
	}{
		{"zk", startRawDiscovery},
		{"hive", startHiveDiscovery},
	}
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			d := impl.start(b)
			var took []time.Duration
			i := 0
			for b.Loop() {
				i++
				inst := registry.Instance{ID: fmt.Sprintf("menu-%d", i), Service: "menu", Endpoint: "127.0.0.1:8002", Started: time.Now()}
				start := time.Now()
				must(b, d.register(inst))
				waitUntilSeen(b, d.updates, inst.ID, true)
				took = append(took, time.Since(start))

				b.StopTimer()
				must(b, d.deregister(inst))
				waitUntilSeen(b, d.updates, inst.ID, false)
				b.StartTimer()
			}
			reportPercentiles(b, took, time.Millisecond, "ms")
		})
	}
}

// discovery is one side of the benchmark: a way to register and deregister
// an instance of the service "menu", and the lists of its instances that a
// watcher on another connection sees.
type discovery struct {
	register, deregister func(registry.Instance) error
	updates              <-chan []registry.Instance
}

// waitUntilSeen reads updates until the instance id is in a list (present)
// or is not (!present).
func waitUntilSeen(b *testing.B, updates <-chan []registry.Instance, id string, present bool) {
	for {
		select {
		case list := <-updates:
			if slices.ContainsFunc(list, func(inst registry.Instance) bool { return inst.ID == id }) == present {
				return
			}
		case <-time.After(10 * time.Second):
			b.Fatalf("the watcher did not see %s come or go within 10s", id)
		}
	}
}

// startHiveDiscovery connects two hive registries to ZooKeeper: one
// registers, the other watches the service.
func startHiveDiscovery(b *testing.B) discovery {
	servers, ns := brokertest.ZooKeeper(b), hivetest.Namespace(b)
	b.Cleanup(func() { removeNamespace(b, servers, ns) })
	var regs [2]*zookeeper.Registry
	for i := range regs {
		r, err := zookeeper.New(b.Context(), servers, zookeeper.Options{Namespace: ns, Logger: quiet})
		must(b, err)
		b.Cleanup(func() { r.Close() })
		regs[i] = r
	}
	owner, watcher := regs[0], regs[1]
	updates, err := watcher.Watch(b.Context(), "menu")
	must(b, err)
	return discovery{
		register:   func(inst registry.Instance) error { return owner.Register(b.Context(), inst) },
		deregister: func(inst registry.Instance) error { return owner.Deregister(b.Context(), inst) },
		updates:    updates,
	}
}

// startRawDiscovery connects to ZooKeeper twice with go-zookeeper: one
// connection creates and deletes ephemeral nodes, the other watches their
// parent and reads every node it lists when the watch fires, as hive's
// watcher does.
func startRawDiscovery(b *testing.B) discovery {
	servers, ns := brokertest.ZooKeeper(b), hivetest.Namespace(b)
	b.Cleanup(func() { removeNamespace(b, servers, ns) })
	owner, watcher := connect(b, servers), connect(b, servers)
	parent := "/" + ns + "/services/menu"
	for _, path := range []string{"/" + ns, "/" + ns + "/services", parent} {
		_, err := owner.Create(path, nil, 0, zk.WorldACL(zk.PermAll))
		must(b, err)
	}

	// The watcher: read the list and set a watch, send the list, wait for
	// the watch to fire; until the connection closes.
	updates := make(chan []registry.Instance, 1)
	go func() {
		for {
			ids, _, changed, err := watcher.ChildrenW(parent)
			if err != nil {
				return
			}
			var list []registry.Instance
			for _, id := range ids {
				data, _, err := watcher.Get(parent + "/" + id)
				if err != nil {
					continue // deleted since it was listed
				}
				var inst registry.Instance
				if json.Unmarshal(data, &inst) == nil {
					list = append(list, inst)
				}
			}
			select {
			case <-updates: // drop the list the reader has not taken yet
			default:
			}
			updates <- list
			<-changed
		}
	}()

	return discovery{
		register: func(inst registry.Instance) error {
			data, err := json.Marshal(inst)
			if err != nil {
				return err
			}
			_, err = owner.Create(parent+"/"+inst.ID, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
			return err
		},
		deregister: func(inst registry.Instance) error { return owner.Delete(parent+"/"+inst.ID, -1) },
		updates:    updates,
	}
}

func connect(b *testing.B, servers []string) *zk.Conn {
	conn, _, err := zk.Connect(servers, 4*time.Second, zk.WithLogger(discardPrintf{}), zk.WithLogInfo(false))
	must(b, err)
	b.Cleanup(conn.Close)
	return conn
}

// removeNamespace deletes the nodes a benchmark left in ZooKeeper: the
// persistent parents of the instances, which are gone with their sessions.
func removeNamespace(b *testing.B, servers []string, ns string) {
	conn := connect(b, servers)
	for _, path := range []string{"/" + ns + "/services/menu", "/" + ns + "/services", "/" + ns} {
		if err := conn.Delete(path, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			b.Errorf("clean up %s: %v", path, err)
		}
	}
}

type discardPrintf struct{}

func (discardPrintf) Printf(string, ...any) {}
