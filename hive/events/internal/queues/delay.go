package queues

import (
	"fmt"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
)

// DelayTiers returns the waits that a delayed event is made of, longest
// first: 2^16 s, 2^15 s, ... 2 s, 1 s. A delay of n seconds waits in the
// tiers of the bits of n, so every whole number of seconds up to
// events.MaxDelay is a sum of tiers, each at most once.
func DelayTiers() []time.Duration {
	tiers := make([]time.Duration, 0, delayTiers)
	for i := delayTiers - 1; i >= 0; i-- {
		tiers = append(tiers, time.Duration(1<<i)*time.Second)
	}
	return tiers
}

// delayTiers is how many tiers there are: events.MaxDelay is the sum of
// them all.
const delayTiers = 17

// Delay rounds d up to whole seconds, the resolution of the tiers, so
// that an event is never delivered before d. It fails for a delay over
// events.MaxDelay, and returns 0 for one of 0 or less: no wait.
func Delay(d time.Duration) (time.Duration, error) {
	if d > events.MaxDelay {
		return 0, fmt.Errorf("a delay of %v is over the longest hive keeps an event waiting, %v (events.MaxDelay): "+
			"keep it in a database and emit it from there when its time comes", d, events.MaxDelay)
	}
	if d <= 0 {
		return 0, nil
	}
	return (d + time.Second - 1).Truncate(time.Second), nil
}
