package hive

import (
	"math/rand/v2"
	"sync"

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

// RoundRobin picks the instances of each service in turn.
func RoundRobin() Picker {
	return &roundRobin{next: make(map[string]int)}
}

type roundRobin struct {
	mu   sync.Mutex
	next map[string]int // per service
}

func (rr *roundRobin) Pick(instances []registry.Instance) (registry.Instance, func(error)) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	service := instances[0].Service
	i := rr.next[service] % len(instances)
	rr.next[service] = i + 1
	return instances[i], func(error) {}
}
