package order

import (
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// LeastInFlight is a hive.Picker, a policy that chooses which instance gets
// the next call: the one with the fewest calls in flight, that is, calls
// sent to it that have not ended yet.
//
// Why that works: a quick instance finishes its calls and soon has none in
// flight again; a slow or stuck one piles them up. So the slow one gets
// fewer new calls, by itself, without anybody measuring how slow it is.
// Among instances with equally few calls, it takes turns.
//
// An instance whose call just failed (it crashed, it is overloaded, it
// timed out) sits out for a short while: calls go to the others, and it
// gets a chance again once the time is up. If all instances sit out, it
// picks among all of them anyway: better to try one that failed a moment
// ago than to give up without trying.
//
// A LeastInFlight is safe for concurrent use: many calls pick at once.
type LeastInFlight struct {
	eject time.Duration    // how long a failed instance sits out
	now   func() time.Time // time.Now; tests put in a clock they control

	mu       sync.Mutex
	inFlight map[string]int       // calls in flight, by instance ID; no entry means none
	ejected  map[string]time.Time // instances sitting out, by ID: until when
	turn     int                  // whose turn it is among equals
}

var _ hive.Picker = (*LeastInFlight)(nil)

// NewLeastInFlight returns a picker that lets a failed instance sit out for
// eject.
func NewLeastInFlight(eject time.Duration) *LeastInFlight {
	return &LeastInFlight{
		eject:    eject,
		now:      time.Now,
		inFlight: make(map[string]int),
		ejected:  make(map[string]time.Time),
	}
}

// Pick chooses an instance for one attempt of a call. hive's client calls
// it with the instances it has not tried yet for this call (never an empty
// list), and calls done with the attempt's error once it is over.
func (p *LeastInFlight) Pick(instances []registry.Instance) (registry.Instance, func(err error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	candidates := p.available(instances)

	// TODO(step05) Task 1: choose the candidate with the
	// fewest calls in flight (p.inFlight[id]); among
	// equals, take turns with p.turn; then count the call
	// in.
	chosen := candidates[0]

	return chosen, func(err error) { p.done(chosen.ID, err) }
}

// done is called once for every call that Pick sent to the instance id,
// when it ends; err is its error, nil if it succeeded.
func (p *LeastInFlight) done(id string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	// TODO(step05) Task 1: count the call out of p.inFlight
	// (delete the entry at zero, so that instances that are
	// gone are forgotten); if instanceFailed(err), the
	// instance sits out for p.eject (p.ejected, p.now).
}

// available returns the instances that are not sitting out, or all of them
// if they all are. On the way, it forgets the instances whose time is up.
func (p *LeastInFlight) available(instances []registry.Instance) []registry.Instance {
	now := p.now()
	maps.DeleteFunc(p.ejected, func(_ string, until time.Time) bool { return !now.Before(until) })
	var in []registry.Instance
	for _, inst := range instances {
		if _, out := p.ejected[inst.ID]; !out {
			in = append(in, inst)
		}
	}
	if len(in) == 0 {
		return instances
	}
	return in
}

// instanceFailed reports whether err says that the instance failed, as
// opposed to the call being wrong. "There is no dish 42" (NotFound) is the
// caller's problem, and another instance would say the same: no reason to
// avoid this one. A crash, a timeout, an overloaded or broken instance is a
// reason.
func instanceFailed(err error) bool {
	if err == nil {
		return false
	}
	var e *hive.Error
	if errors.As(err, &e) {
		switch e.Code {
		case hive.BadRequest, hive.NotFound, hive.Conflict:
			return false
		}
	}
	return true
}
