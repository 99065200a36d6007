// Package static is a registry.Registry with a fixed list of instances: for
// services that call each other at known addresses, with no discovery
// service running.
//
// A static registry never changes. Register and Deregister accept any
// instance and ignore it, because a service calls them as it starts and
// stops whichever registry it was given; with static addresses, the callers
// already know where it is.
package static

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

// Registry answers from a fixed list of instances.
type Registry struct {
	instances []registry.Instance // sorted by ID
	closeOnce sync.Once
	closed    chan struct{}
}

var _ registry.Registry = (*Registry)(nil)

// New returns a registry of the given instances.
func New(instances ...registry.Instance) *Registry {
	instances = slices.Clone(instances)
	slices.SortFunc(instances, func(a, b registry.Instance) int { return cmp.Compare(a.ID, b.ID) })
	return &Registry{instances: instances, closed: make(chan struct{})}
}

// Parse returns a registry of the instances listed in spec: comma-separated
// service=host:port pairs, such as
//
//	menu=127.0.0.1:8002,order=127.0.0.1:8003,menu=127.0.0.1:8012
//
// A service may appear several times, once for each of its instances. Each
// instance gets the ID service-host:port, e.g. "menu-127.0.0.1:8002". An
// empty spec gives an empty registry.
func Parse(spec string) (*Registry, error) {
	if strings.TrimSpace(spec) == "" {
		return New(), nil
	}
	var instances []registry.Instance
	seen := make(map[string]bool)
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		service, endpoint, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("static: parse %q: entry %q is not service=host:port", spec, entry)
		}
		inst := registry.Instance{ID: service + "-" + endpoint, Service: service, Endpoint: endpoint}
		if err := inst.Validate(); err != nil {
			return nil, fmt.Errorf("static: parse %q: entry %q: %w", spec, entry, err)
		}
		if seen[inst.ID] {
			return nil, fmt.Errorf("static: parse %q: entry %q is listed twice", spec, entry)
		}
		seen[inst.ID] = true
		instances = append(instances, inst)
	}
	return New(instances...), nil
}

// Register does nothing: the list is fixed.
func (r *Registry) Register(ctx context.Context, inst registry.Instance) error { return r.err() }

// Deregister does nothing: the list is fixed.
func (r *Registry) Deregister(ctx context.Context, inst registry.Instance) error { return r.err() }

// Services returns the names of the services in the list, sorted.
func (r *Registry) Services(ctx context.Context) ([]string, error) {
	if err := r.err(); err != nil {
		return nil, err
	}
	var names []string
	for _, inst := range r.instances {
		names = append(names, inst.Service)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Instances returns the instances of service in the list, sorted by ID.
func (r *Registry) Instances(ctx context.Context, service string) ([]registry.Instance, error) {
	if err := r.err(); err != nil {
		return nil, err
	}
	var list []registry.Instance
	for _, inst := range r.instances {
		if inst.Service == service {
			list = append(list, inst)
		}
	}
	return list, nil
}

// Watch sends the instances of service once; as the list never changes,
// nothing follows. The channel closes when ctx ends or the registry closes.
func (r *Registry) Watch(ctx context.Context, service string) (<-chan []registry.Instance, error) {
	list, err := r.Instances(ctx, service)
	if err != nil {
		return nil, err
	}
	ch := make(chan []registry.Instance, 1)
	ch <- list
	go func() {
		select {
		case <-ctx.Done():
		case <-r.closed:
		}
		close(ch)
	}()
	return ch, nil
}

// Close closes the watch channels. Later calls return registry.ErrClosed.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	return nil
}

func (r *Registry) err() error {
	select {
	case <-r.closed:
		return registry.ErrClosed
	default:
		return nil
	}
}
