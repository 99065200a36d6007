package zookeeper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/go-zookeeper/zk"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

// Register creates the ephemeral node of inst, replacing a node of the same
// ID, and registers it again on every new session until Deregister.
//
// The zk client takes no context, so ctx is only checked before the write
// starts; the write ends when the server answers or the connection fails.
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
	r.endGuard(path) // of an earlier record of the same ID
	stop := make(chan struct{})
	r.guards[path] = stop
	r.wg.Add(1)
	go r.guard(path, stop)
	return nil
}

// create writes inst to a new ephemeral node at the path node. A node of
// the same ID may exist: an earlier record, or the node of an expired
// session that the server has not removed yet. create deletes it first
// (rather than changing its data), so the node is ours and watchers, who
// watch the list of nodes, see the change. A node of this session that
// holds inst already stays: the guard of a node and a new session's
// registering may both come to it. r.mu must be held.
func (r *Registry) create(node string, inst registry.Instance) error {
	data, err := json.Marshal(inst)
	if err != nil {
		return err
	}
	_, err = r.conn.Create(node, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zk.ErrNoNode): // the first instance of its service: create the parents
		if err := CreatePath(r.conn, path.Dir(node)); err != nil {
			return err
		}
	case errors.Is(err, zk.ErrNodeExists): // a stale node of an earlier session, or a new record
		held, stat, err := r.conn.Get(node)
		if err == nil && stat.EphemeralOwner == r.conn.SessionID() && bytes.Equal(held, data) {
			return nil
		}
		if err := r.conn.Delete(node, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
	default:
		return err
	}
	// Try once more, now that the parents exist or the old node is gone.
	_, err = r.conn.Create(node, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	return err
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
	r.endGuard(path)
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
	list, err := r.read(service, ids)
	if err != nil {
		return nil, fmt.Errorf("zookeeper: instances of %s: %w", service, err)
	}
	return list, nil
}

// read returns the instances in the nodes ids of service, sorted by ID:
// those a caller can use (registry.Decode). One bad node must not hide
// all the good ones: it is left out, and Skipped says why.
//
// A watch reads its service's nodes after every change, and one change
// is one node among many. So read keeps what it read of each node (see
// record) and reads again only a node that is new or changed since.
func (r *Registry) read(service string, ids []string) ([]registry.Instance, error) {
	slices.Sort(ids)
	known := r.known(service)
	latest := make(map[string]record, len(ids))
	var list []registry.Instance
	skipped := make(map[string]string) // by node: why
	for _, id := range ids {
		rec, err := r.readNode(service, id, known[id])
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone since we listed it
		}
		if err != nil {
			return nil, err
		}
		latest[id] = rec
		if rec.skipped != "" {
			skipped[id] = rec.skipped
			continue
		}
		list = append(list, rec.inst)
	}
	r.remember(service, latest)
	r.skip(service, skipped)
	return list, nil
}

// A record is what read made of a node's data: an instance, or why the
// node was skipped. mzxid, the id of the node's latest change (ZooKeeper
// gives every write one), tells whether it still holds: a node deleted
// and created again, or whose data was set, has a new one.
type record struct {
	mzxid   int64
	inst    registry.Instance
	skipped string
}

// readNode reads the node id of service, unless known is what it read
// last time (the node has not changed since). It looks at the node's
// size first: data over registry.MaxRecordBytes is skipped unread.
func (r *Registry) readNode(service, id string, known record) (record, error) {
	node := r.servicePath(service) + "/" + id
	exists, stat, err := r.conn.Exists(node)
	switch {
	case err != nil:
		return record{}, err
	case !exists:
		return record{}, zk.ErrNoNode
	case stat.Mzxid == known.mzxid:
		return known, nil
	case int(stat.DataLength) > registry.MaxRecordBytes:
		return record{mzxid: stat.Mzxid, skipped: registry.TooLarge(service, id, int(stat.DataLength)).Error()}, nil
	}
	data, stat, err := r.conn.Get(node)
	if err != nil {
		return record{}, err
	}
	rec := record{mzxid: stat.Mzxid}
	if rec.inst, err = registry.Decode(service, id, data); err != nil { // Decode checks the size again: the node may have changed
		rec.skipped = err.Error()
	}
	return rec, nil
}

// known returns what the latest read of service made of its nodes, by
// node name.
func (r *Registry) known(service string) map[string]record {
	r.recordsMu.Lock()
	defer r.recordsMu.Unlock()
	return r.records[service]
}

// remember keeps what a read of service made of its nodes, for the next
// read. Nodes that are gone are forgotten.
func (r *Registry) remember(service string, latest map[string]record) {
	r.recordsMu.Lock()
	defer r.recordsMu.Unlock()
	r.records[service] = latest
}

// skip records why the latest read of service left out each of the nodes
// in skipped, and logs a reason the first time it sees it for a node: a
// watch reads its service's nodes after every change, and one bad node
// must not flood the log.
func (r *Registry) skip(service string, skipped map[string]string) {
	r.skippedMu.Lock()
	defer r.skippedMu.Unlock()
	for node, why := range skipped {
		if r.skipped[service][node] != why {
			r.logger.Warn("zookeeper: skip a node that holds no usable record", "service", service, "node", node, "error", why)
		}
	}
	r.skipped[service] = skipped
}

// Skipped returns why the latest read of service's nodes left out each
// of those it left out, sorted: see registry.Skipper.
func (r *Registry) Skipped(service string) []string {
	r.skippedMu.Lock()
	defer r.skippedMu.Unlock()
	var why []string
	for _, reason := range r.skipped[service] {
		why = append(why, reason)
	}
	slices.Sort(why)
	return why
}
