// Package memory is a registry.Registry that lives in one process: the
// registry for tests and for demos that run every service in one program.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

// Registry keeps instances in maps guarded by a mutex. The zero value is not
// usable; call New.
type Registry struct {
	mu        sync.Mutex
	closed    bool
	instances map[string]map[string]registry.Instance      // service → ID → instance
	watchers  map[string]map[chan []registry.Instance]bool // service → open watch channels
}

var _ registry.Registry = (*Registry)(nil)

// New returns an empty registry.
func New() *Registry {
	return &Registry{
		instances: make(map[string]map[string]registry.Instance),
		watchers:  make(map[string]map[chan []registry.Instance]bool),
	}
}

// Register adds inst, or replaces the instance with the same service and ID.
func (r *Registry) Register(ctx context.Context, inst registry.Instance) error {
	if err := inst.Validate(); err != nil {
		return fmt.Errorf("memory: register: %w", err)
	}
	inst.Idempotent = slices.Clone(inst.Idempotent) // the caller may reuse its slice
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return registry.ErrClosed
	}
	if r.instances[inst.Service] == nil {
		r.instances[inst.Service] = make(map[string]registry.Instance)
	}
	r.instances[inst.Service][inst.ID] = inst
	r.notify(inst.Service)
	return nil
}

// Deregister removes inst, if it is there.
func (r *Registry) Deregister(ctx context.Context, inst registry.Instance) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return registry.ErrClosed
	}
	if _, ok := r.instances[inst.Service][inst.ID]; !ok {
		return nil
	}
	delete(r.instances[inst.Service], inst.ID)
	if len(r.instances[inst.Service]) == 0 {
		delete(r.instances, inst.Service)
	}
	r.notify(inst.Service)
	return nil
}

// Services returns the names of the services that have instances, sorted.
func (r *Registry) Services(ctx context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, registry.ErrClosed
	}
	names := make([]string, 0, len(r.instances))
	for name := range r.instances {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// Instances returns the instances of service, sorted by ID.
func (r *Registry) Instances(ctx context.Context, service string) ([]registry.Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, registry.ErrClosed
	}
	return r.list(service), nil
}

// Watch sends the instances of service now and after every change. The
// channel holds one list: a new list replaces one the reader has not taken
// yet, so a slow reader never blocks the registry and always gets the latest.
func (r *Registry) Watch(ctx context.Context, service string) (<-chan []registry.Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, registry.ErrClosed
	}
	ch := make(chan []registry.Instance, 1)
	ch <- r.list(service)
	if r.watchers[service] == nil {
		r.watchers[service] = make(map[chan []registry.Instance]bool)
	}
	r.watchers[service][ch] = true
	context.AfterFunc(ctx, func() { r.unwatch(service, ch) })
	return ch, nil
}

func (r *Registry) unwatch(service string, ch chan []registry.Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watchers[service][ch] { // Close may have closed it already
		delete(r.watchers[service], ch)
		close(ch)
	}
}

// Close closes every watch channel. Later calls return registry.ErrClosed.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	for _, chans := range r.watchers {
		for ch := range chans {
			close(ch)
		}
	}
	r.instances, r.watchers = nil, nil
	return nil
}

// notify sends the new list of service to its watchers. r.mu must be held:
// the mutex makes this the only sender, so after the receive that empties the
// buffer, the send cannot block.
func (r *Registry) notify(service string) {
	list := r.list(service)
	for ch := range r.watchers[service] {
		select {
		case <-ch: // drop the list the reader has not taken yet
		default:
		}
		ch <- slices.Clone(list)
	}
}

// list returns the instances of service sorted by ID. r.mu must be held.
func (r *Registry) list(service string) []registry.Instance {
	list := make([]registry.Instance, 0, len(r.instances[service]))
	for _, inst := range r.instances[service] {
		list = append(list, inst)
	}
	slices.SortFunc(list, func(a, b registry.Instance) int { return cmp.Compare(a.ID, b.ID) })
	return list
}
