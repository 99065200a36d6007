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
