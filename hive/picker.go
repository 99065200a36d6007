package hive

import (
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

// A Picker chooses which instance of a service gets the next call: a load
// balancing policy.
//
// The client calls Pick with the instances it has not yet tried for this
// call, never with an empty list, and calls done once the attempt is over,
// with its error (nil for success). A picker that keeps no score returns a
// done that does nothing.
type Picker interface {
	Pick(instances []registry.Instance) (chosen registry.Instance, done func(err error))
}

// PickerFunc lets an ordinary function that keeps no score be a Picker.
type PickerFunc func(instances []registry.Instance) registry.Instance

// Pick calls f(instances).
func (f PickerFunc) Pick(instances []registry.Instance) (registry.Instance, func(error)) {
	return f(instances), func(error) {}
}

// Random picks an instance at random.
func Random() Picker {
	return PickerFunc(func(instances []registry.Instance) registry.Instance {
		return instances[rand.IntN(len(instances))]
	})
}

// RoundRobin picks the instances of each service in turn. An instance that
// just failed in a way that speaks against it (no answer, a timeout, or
// Unavailable) sits out its turns for a second, so that the calls that
// follow do not wait for it too. When all of them sit out, all take turns.
//
// Each call of RoundRobin returns a picker of its own, with its own turns
// and its own memory of failures.
func RoundRobin() Picker {
	return &roundRobin{next: make(map[string]int), benched: make(map[string]time.Time)}
}

// benchTime is how long an instance that failed sits out. Long enough that
// a burst of calls goes elsewhere; short enough that an instance that
// recovers soon gets calls again.
const benchTime = time.Second

type roundRobin struct {
	mu      sync.Mutex
	next    map[string]int       // per service
	benched map[string]time.Time // per instance ID: until when it sits out
}

func (rr *roundRobin) Pick(instances []registry.Instance) (registry.Instance, func(error)) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	service := instances[0].Service
	ready := rr.ready(instances, time.Now())
	i := rr.next[service] % len(ready)
	rr.next[service] = i + 1
	chosen := ready[i]
	return chosen, func(err error) {
		if !down(err) {
			return
		}
		rr.mu.Lock()
		defer rr.mu.Unlock()
		rr.benched[chosen.ID] = time.Now().Add(benchTime)
	}
}

// ready returns the instances that do not sit out now, or all of them if
// they all do. It forgets the failures that are over. rr.mu must be held.
func (rr *roundRobin) ready(instances []registry.Instance, now time.Time) []registry.Instance {
	if len(rr.benched) == 0 {
		return instances // the usual case: no need to copy
	}
	maps.DeleteFunc(rr.benched, func(_ string, until time.Time) bool { return !now.Before(until) })
	ready := slices.DeleteFunc(slices.Clone(instances), func(inst registry.Instance) bool {
		_, out := rr.benched[inst.ID]
		return out
	})
	if len(ready) == 0 {
		return instances
	}
	return ready
}
