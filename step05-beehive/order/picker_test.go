package order

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// Three menu instances, as the registry would list them.
var menus = []registry.Instance{
	{ID: "menu-a", Service: "menu", Endpoint: "127.0.0.1:9001"},
	{ID: "menu-b", Service: "menu", Endpoint: "127.0.0.1:9002"},
	{ID: "menu-c", Service: "menu", Endpoint: "127.0.0.1:9003"},
}

func TestTask1_TheNextCallGoesWhereFewestAreInFlight(t *testing.T) {
	p := NewLeastInFlight(time.Second)

	// Three calls that have not ended yet: one on each menu.
	var chosen []string
	dones := make(map[string]func(error))
	for range 3 {
		inst, done := p.Pick(menus)
		chosen = append(chosen, inst.ID)
		dones[inst.ID] = done
	}
	slices.Sort(chosen)
	if !slices.Equal(chosen, []string{"menu-a", "menu-b", "menu-c"}) {
		t.Fatalf("Task 1: with no call in flight anywhere, three calls went to %v; want one on each menu.\n"+
			"In Pick (order/picker.go), choose a candidate with the fewest calls in flight (p.inFlight[inst.ID]), and count the call in with p.inFlight[chosen.ID]++.", chosen)
	}

	// The call on menu-b ends: menu-b has none in flight now, the others
	// one each. The next call must go to menu-b.
	dones["menu-b"](nil)
	if inst, _ := p.Pick(menus); inst.ID != "menu-b" {
		t.Fatalf("Task 1: menu-b had no call in flight, menu-a and menu-c had one each, and the next call went to %s; want menu-b.\n"+
			"When a call ends, done must count it out: p.inFlight[id]--.", inst.ID)
	}
}

func TestTask1_EqualsTakeTurns(t *testing.T) {
	p := NewLeastInFlight(time.Second)
	var chosen []string
	for range 6 {
		inst, done := p.Pick(menus)
		done(nil) // each call ends before the next one starts
		chosen = append(chosen, inst.ID)
	}
	for i := 1; i < len(chosen); i++ {
		if chosen[i] == chosen[i-1] {
			t.Fatalf("Task 1: six calls, each ending before the next began, went to %v: %s twice in a row. "+
				"With no calls in flight, all menus are equal, and equals must take turns: pick fewest[p.turn %% len(fewest)], then p.turn++.", chosen, chosen[i])
		}
	}
}

func TestTask1_AFailedInstanceSitsOutAWhile(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	p := NewLeastInFlight(time.Second)
	p.now = func() time.Time { return now } // a clock that moves only when the test says so

	// pick picks n times, each call ending at once and well, and returns
	// how often each menu was chosen.
	pick := func(n int) map[string]int {
		got := make(map[string]int)
		for range n {
			inst, done := p.Pick(menus)
			done(nil)
			got[inst.ID]++
		}
		return got
	}

	// failOn picks until the picker chooses id, and ends that call with
	// err (the others succeed).
	failOn := func(id string, err error) {
		t.Helper()
		for range 10 {
			inst, done := p.Pick(menus)
			if inst.ID == id {
				done(err)
				return
			}
			done(nil)
		}
		t.Fatalf("Task 1: in 10 calls, all ending well, the picker never chose %s; equals must take turns", id)
	}

	// menu-a fails; for the next second it gets no calls.
	failOn("menu-a", hive.Errorf(hive.Unavailable, "overloaded"))
	if got := pick(6); got["menu-a"] != 0 {
		t.Fatalf("Task 1: menu-a failed a call (Unavailable), and still got %d of the next 6 calls; want none for a second. "+
			"In done, when instanceFailed(err), set p.ejected[id] = p.now().Add(p.eject).", got["menu-a"])
	}

	// A second later it is back.
	now = now.Add(time.Second)
	if got := pick(6); got["menu-a"] == 0 {
		t.Fatalf("Task 1: menu-a sat out its second, but then got none of the next 6 calls: %v", got)
	}

	// An error that is the caller's fault is no reason to avoid a menu.
	failOn("menu-b", hive.Errorf(hive.NotFound, "there is no dish 42"))
	if got := pick(6); got["menu-b"] == 0 {
		t.Fatalf("Task 1: menu-b answered NotFound (the caller's mistake, not menu-b's) and then got none of the next 6 calls: %v. "+
			"Only eject when instanceFailed(err) says so.", got)
	}
}

// Many calls pick at once. The race detector (go test -race) tells if the
// picker's maps are used without its lock; and when every call has ended,
// nothing may be left in flight: an instance that leaves the registry must
// not be remembered for ever, or a beehive that runs for weeks fills its
// memory with the thousands that came and went.
func TestTask1_ManyCallsAtOnce(t *testing.T) {
	p := NewLeastInFlight(time.Second)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 300 {
				_, done := p.Pick(menus)
				done(nil)
			}
		})
	}
	wg.Wait()
	// How the calls are shared is not checked here (TestTask1_EqualsTakeTurns
	// does that): on a busy machine a goroutine paused between Pick and done
	// looks like a slow menu, and the picker rightly sends it less.
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.inFlight) != 0 {
		t.Errorf("Task 1: every call has ended, but the picker still counts calls in flight: %v. "+
			"done must count each call out, and delete an entry that reaches zero.", p.inFlight)
	}
}
