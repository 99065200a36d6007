package conform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/go-zookeeper/zk"

	"github.com/hive-workshop/microservices-go/hive/protocol"
	"github.com/hive-workshop/microservices-go/hive/registry"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

// registry checks the service's records in ZooKeeper, and returns the
// record of the instance to call.
func (c *checker) registry(ctx context.Context) (registry.Instance, bool) {
	const layout, record = "Registry, Layout", "Registry, The record"
	conn, err := zookeeper.Connect(ctx, c.t.ZooKeeper, zookeeper.Options{})
	if !c.need(layout, "reach ZooKeeper", err) {
		return registry.Instance{}, false
	}
	defer conn.Close()

	dir := zookeeper.Root(c.t.ZooKeeper, c.t.Namespace) + "/services/" + c.t.Service
	nodes, _, err := conn.Children(dir)
	if err == nil && len(nodes) == 0 || errors.Is(err, zk.ErrNoNode) {
		err = fmt.Errorf("no node under %s: is the service running, in namespace %q?", dir, c.t.Namespace)
	}
	if !c.check(layout, "the service has an instance node under /<namespace>/services/<service>", err) {
		return registry.Instance{}, false
	}
	slices.Sort(nodes)

	sch, err := protocol.Schema(protocol.RecordSchema)
	if err != nil {
		c.need(record, "compile the record schema", err)
		return registry.Instance{}, false
	}
	var usable []registry.Instance
	for _, node := range nodes {
		path := dir + "/" + node
		data, stat, err := conn.Get(path)
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone since it was listed
		}
		if !c.need(layout, "read "+path, err) {
			continue
		}
		if stat.EphemeralOwner == 0 {
			err = errors.New("it is persistent: it would outlive a crashed instance")
		}
		c.check(layout, "the node "+node+" is ephemeral", err)
		c.check(record, "the record "+node+" matches registry-record.schema.json", protocol.Validate(sch, data))
		c.check("Registry, Versions of a service", "the record "+node+"'s version is semver, or a label that does not start like a number",
			recordVersion(data))
		inst, err := registry.Decode(c.t.Service, node, data)
		if c.check("Registry, A record a caller cannot use", "the record "+node+" is one a caller can use", err) {
			usable = append(usable, inst)
		}
	}
	if len(usable) == 0 {
		return registry.Instance{}, false
	}
	if c.t.Instance == "" {
		return usable[0], true
	}
	i := slices.IndexFunc(usable, func(inst registry.Instance) bool { return inst.ID == c.t.Instance })
	if !c.check(layout, "instance "+c.t.Instance+" has a usable record", errIf(i < 0, "no usable record has that id")) {
		return registry.Instance{}, false
	}
	return usable[i], true
}

// recordVersion checks the version of a record, given as the bytes of
// its node: a "1.4" or "v2" would match no caller's range, without a word.
// A record that is no JSON object is the schema's business.
func recordVersion(data []byte) error {
	var rec map[string]any
	if json.Unmarshal(data, &rec) != nil {
		return nil
	}
	switch v := rec["version"].(type) {
	case nil:
		return nil // none: as good as a label
	case string:
		return registry.CheckVersion(v)
	default:
		return fmt.Errorf("version %v is no string", v)
	}
}

// errIf returns an error that says why, if broken.
func errIf(broken bool, why string, args ...any) error {
	if broken {
		return fmt.Errorf(why, args...)
	}
	return nil
}
