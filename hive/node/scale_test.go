package node

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The decision rule on a fake clock: a scene is what the queue holds at a
// moment, and the count the rule wants then.
func TestScalerDecides(t *testing.T) {
	type scene struct {
		at      time.Duration // since the start
		waiting int
		want    int
	}
	rule := Scale{Min: 1, Max: 4, PerBee: 10, CoolDown: 30 * time.Second}
	for _, tc := range []struct {
		name   string
		bees   int
		scenes []scene
	}{
		{"idle stays at min", 1, []scene{{0, 0, 1}, {time.Minute, 0, 1}, {time.Hour, 5, 1}}},
		{"up at once, to what the backlog needs", 1, []scene{{0, 10, 1}, {time.Second, 11, 2}, {2 * time.Second, 35, 4}}},
		{"never above max", 1, []scene{{0, 1000, 4}, {time.Second, 5000, 4}}},
		{"never below min", 3, []scene{{0, 0, 3}, {31 * time.Second, 0, 1}, {2 * time.Hour, 0, 1}}},
		{"down only after the work stayed low for the cool-down", 1, []scene{
			{0, 40, 4},               // a burst: 4 bees
			{5 * time.Second, 0, 4},  // drained, but it just changed
			{29 * time.Second, 0, 4}, // low for 24s only
			{35 * time.Second, 0, 1}, // low for 30s, and 35s since the change
			{40 * time.Second, 0, 1}}},
		{"a new burst during the cool-down starts it over", 1, []scene{
			{0, 40, 4},
			{20 * time.Second, 0, 4},
			{40 * time.Second, 30, 4}, // busy again: not low any more
			{45 * time.Second, 0, 4},
			{70 * time.Second, 0, 4}, // low for 25s only
			{75 * time.Second, 0, 1}}},
		// Hysteresis: 4 bees with 12 waiting is 3 each, well under 10, but
		// 2 bees would have 6 each, over half of 10: it goes down to 3,
		// where 4 each is under half.
		{"down only to where it would not go up again", 4, []scene{
			{0, 12, 4}, {30 * time.Second, 12, 3}, {31 * time.Second, 12, 3}}},
		{"between up and down it stays (no flapping)", 2, []scene{
			{0, 15, 2}, {time.Minute, 12, 2}, {2 * time.Minute, 19, 2}, {3 * time.Minute, 11, 2}}},
		{"a count set outside the rule comes back in", 6, []scene{{0, 0, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
			s := newScaler(rule)
			bees := tc.bees
			for _, sc := range tc.scenes {
				bees = s.decide(start.Add(sc.at), bees, sc.waiting)
				assert.Equal(t, sc.want, bees, "at %v with %d waiting", sc.at, sc.waiting)
			}
		})
	}
}

// A count set by hand is left alone for a cool-down.
func TestScalerLeavesACountSetByHand(t *testing.T) {
	start := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	s := newScaler(Scale{Min: 1, Max: 4, PerBee: 10, CoolDown: 30 * time.Second})
	s.decide(start, 1, 0) // work has been low for a long time
	s.setBy(start.Add(time.Hour))
	assert.Equal(t, 3, s.decide(start.Add(time.Hour+10*time.Second), 3, 0), "the scaler undid `hive scale` at once")
	// After the cool-down the scaler follows the work again, by its rule:
	// down once the work has been low for a cool-down.
	assert.Equal(t, 3, s.decide(start.Add(time.Hour+35*time.Second), 3, 0))
	assert.Equal(t, 3, s.decide(start.Add(time.Hour+60*time.Second), 3, 0), "low only since 35s")
	assert.Equal(t, 1, s.decide(start.Add(time.Hour+65*time.Second), 3, 0))

	// Down by hand while work waits: the scaler does not bring bees back
	// until the cool-down is over.
	s.setBy(start.Add(2 * time.Hour))
	assert.Equal(t, 1, s.decide(start.Add(2*time.Hour+time.Second), 1, 500), "the scaler undid `hive scale` at once")
	assert.Equal(t, 1, s.decide(start.Add(2*time.Hour+29*time.Second), 1, 500))
	assert.Equal(t, 4, s.decide(start.Add(2*time.Hour+30*time.Second), 1, 500))
}
