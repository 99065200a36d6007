package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

// retryDelay is how long a watch waits before it reads again after an
// error, typically while the client reconnects.
const retryDelay = 500 * time.Millisecond

// Watch sends the instances of service now and after every change, until ctx
// ends or the registry closes. The channel holds one list: a new list
// replaces one the reader has not taken yet. It works for a service that has
// no instance yet too: it sees the first one arrive.
func (r *Registry) Watch(ctx context.Context, service string) (<-chan []registry.Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isClosed() {
		return nil, registry.ErrClosed
	}
	list, changed, err := r.readAndWatch(service)
	if err != nil {
		return nil, fmt.Errorf("zookeeper: watch %s: %w", service, err)
	}
	out := make(chan []registry.Instance, 1)
	out <- list
	r.wg.Add(1)
	go r.watch(ctx, service, changed, out)
	return out, nil
}

// watch waits for the watch to fire, reads again, sets a new watch, and sends
// the list; again and again until ctx ends or the registry closes.
//
// A watch also fires when the session expires; the read that follows waits
// for the new session, or fails and is tried again a little later.
func (r *Registry) watch(ctx context.Context, service string, changed <-chan zk.Event, out chan []registry.Instance) {
	defer r.wg.Done()
	defer close(out)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.done:
			return
		case <-changed:
		}
		list, next, err := r.readAndWatch(service)
		if err != nil {
			if r.isClosed() {
				return
			}
			r.logger.Warn("zookeeper: watch: read failed, trying again", "service", service, "error", err)
			changed = fireAfter(retryDelay)
			continue
		}
		changed = next
		select {
		case <-out: // drop the list the reader has not taken yet
		default:
		}
		out <- list // this goroutine is the only sender: it cannot block
	}
}

// readAndWatch returns the instances of service and a channel that fires on
// the next change. Without a service node yet, it watches for the node's
// creation instead.
func (r *Registry) readAndWatch(service string) ([]registry.Instance, <-chan zk.Event, error) {
	path := r.servicePath(service)
	for {
		ids, _, changed, err := r.conn.ChildrenW(path)
		if err == nil {
			list, err := r.read(service, ids)
			return list, changed, err
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return nil, nil, err
		}
		exists, _, created, err := r.conn.ExistsW(path)
		if err != nil {
			return nil, nil, err
		}
		if !exists {
			return nil, created, nil
		}
		// Created between the two calls: list its children after all.
	}
}

// fireAfter returns a channel that fires after d, as if a watch had fired.
func fireAfter(d time.Duration) <-chan zk.Event {
	ch := make(chan zk.Event, 1)
	time.AfterFunc(d, func() { ch <- zk.Event{} })
	return ch
}
