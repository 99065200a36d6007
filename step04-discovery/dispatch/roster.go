package main

import (
	"context"
	"slices"
	"sync"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

// A roster is the live list of the instances of one service: here, the
// kitchens on duty. It follows the registry, which tells it every time an
// instance comes or goes, so that "who is on duty?" is answered from
// memory, without asking ZooKeeper each time.
type roster struct {
	mu        sync.Mutex
	instances []registry.Instance // the registry's latest list, sorted by ID
}

// follow keeps r up to date with the instances of service, until ctx
// ends; then it returns nil. It returns an error if it cannot watch.
func (r *roster) follow(ctx context.Context, reg registry.Registry, service string) error {
	// TODO(step04) Task 1: watch service with reg.Watch(ctx, service), and r.set every list that arrives, until the channel closes.
	return nil
}

// set replaces the roster's list.
func (r *roster) set(instances []registry.Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instances = instances
}

// list returns the roster's list. It returns a copy: the caller may keep it
// while the roster changes.
func (r *roster) list() []registry.Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.instances)
}
