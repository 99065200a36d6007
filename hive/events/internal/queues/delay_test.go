package queues

import (
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
)

func TestDelayRoundsUpToWholeSeconds(t *testing.T) {
	for _, tt := range []struct{ in, want time.Duration }{
		{-time.Second, 0},
		{0, 0},
		{time.Nanosecond, time.Second},
		{time.Second, time.Second},
		{2500 * time.Millisecond, 3 * time.Second},
		{events.MaxDelay, events.MaxDelay},
	} {
		if got, err := Delay(tt.in); err != nil || got != tt.want {
			t.Errorf("Delay(%v) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := Delay(events.MaxDelay + time.Nanosecond); err == nil {
		t.Errorf("Delay(MaxDelay + 1ns) did not fail")
	}
}

// The tiers add up to MaxDelay, so that every delay up to it is a sum of
// tiers, each at most once.
func TestDelayTiersAddUpToMaxDelay(t *testing.T) {
	var sum time.Duration
	for _, d := range DelayTiers() {
		sum += d
	}
	if sum != events.MaxDelay {
		t.Errorf("the delay tiers add up to %v, want events.MaxDelay, %v", sum, events.MaxDelay)
	}
}
