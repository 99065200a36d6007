package zookeeper

import (
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
)

// onEvent is called by the zk client for every session event. It must not
// block, so it only drops a token for keepRegistered (or New).
func (r *Registry) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		select {
		case r.sessions <- struct{}{}:
		default: // a token is already waiting
		}
	case zk.StateExpired:
		r.logger.Warn("zookeeper: session expired; registering again on the next session")
	}
}

// keepRegistered registers every instance again each time the client gets a
// new session, until Close. session is the one the instances were last
// registered in; a reconnect within it needs nothing, its nodes are still
// there.
func (r *Registry) keepRegistered(session int64) {
	defer r.wg.Done()
	var retry <-chan time.Time
	for {
		select {
		case <-r.done:
			return
		case <-r.sessions:
		case <-retry:
		}
		retry = nil
		id := r.conn.SessionID()
		if id == 0 || id == session { // no session right now, or the same one
			continue
		}
		if err := r.registerAll(); err != nil {
			r.logger.Warn("zookeeper: register again on the new session", "error", err)
			retry = time.After(time.Second)
			continue
		}
		session = id
		r.logger.Info("zookeeper: registered again on a new session", "session", fmt.Sprintf("%#x", id))
	}
}

// registerAll writes every instance registered through r again.
func (r *Registry) registerAll() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isClosed() {
		return nil
	}
	for path, inst := range r.registered {
		if err := r.create(path, inst); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

// guard watches the node of an instance registered at node, and creates
// it again as soon as it goes while the instance is registered: anyone
// may delete a node, and callers would not find the instance until its
// next session. It ends when stop closes (Deregister, or a new Register of
// the same ID, which starts a guard of its own) or the registry closes.
func (r *Registry) guard(node string, stop <-chan struct{}) {
	defer r.wg.Done()
	for {
		exists, _, changed, err := r.conn.ExistsW(node)
		switch {
		case err != nil: // no connection right now: look again a little later
			changed = fireAfter(retryDelay)
		case !exists:
			if err := r.restore(node, stop); err != nil {
				r.logger.Warn("zookeeper: register again the node someone deleted", "node", node, "error", err)
				changed = fireAfter(retryDelay)
			}
		}
		select {
		case <-r.done:
			return
		case <-stop:
			return
		case <-changed:
		}
	}
}

// restore creates the node of a registered instance again, unless its
// guard was stopped meanwhile.
func (r *Registry) restore(node string, stop <-chan struct{}) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-stop:
		return nil
	default:
	}
	if r.isClosed() {
		return nil
	}
	if err := r.create(node, r.registered[node]); err != nil {
		return err
	}
	r.logger.Warn("zookeeper: the instance's node was deleted while it runs; registered it again", "node", node)
	return nil
}

// endGuard stops the guard of node, if it has one. r.mu must be held.
func (r *Registry) endGuard(node string) {
	if stop, ok := r.guards[node]; ok {
		close(stop)
		delete(r.guards, node)
	}
}
