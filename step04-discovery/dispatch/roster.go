package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

// A roster is the live list of the instances of one service: here, the
// kitchens on duty. It follows the registry, which tells it every time an
// instance comes or goes, so that "who is on duty?" is answered from
// memory, without asking ZooKeeper each time.
type roster struct {
	log *slog.Logger // says who joined and who left; set before follow runs

	mu        sync.Mutex
	instances []registry.Instance // the registry's latest list, sorted by ID
}

// follow keeps r up to date with the instances of service, until ctx
// ends; then it returns nil. It returns an error if it cannot watch.
func (r *roster) follow(ctx context.Context, reg registry.Registry, service string) error {
	// TODO(step04) Task 1: watch service with
	// reg.Watch(ctx, service), and r.set every list that
	// arrives, until the channel closes.
	return nil
}

// set replaces the roster's list, and logs who joined and who left.
func (r *roster) set(instances []registry.Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	joined, left := changes(r.instances, instances)
	for _, inst := range joined {
		r.log.Info("joined the roster", "instance", inst.ID, "endpoint", inst.Endpoint)
	}
	for _, inst := range left {
		r.log.Info("left the roster", "instance", inst.ID)
	}
	r.instances = instances
}

// changes compares two lists of instances: the registry's list before and
// now. It returns the instances in now that were not in before (joined),
// and those in before that are not in now (left), each in the order of
// its list. A watch tells the state, not what happened: this is how to
// know what happened.
func changes(before, now []registry.Instance) (joined, left []registry.Instance) {
	// TODO(step04) Going further: find the instances that joined and left, by their IDs.
	return nil, nil
}

// list returns the roster's list. It returns a copy: the caller may keep it
// while the roster changes.
func (r *roster) list() []registry.Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.instances)
}
