package node

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
)

// A scaler decides how many instances a service should have, from the
// work waiting for it. It holds what the decisions need to remember (when
// the count last changed, since when the work has been low), and reads
// the time only from its callers: a test hands it a fake clock.
//
// The rule, like Kubernetes' autoscaler with a stabilisation window:
// The work is events waiting in a queue, or calls in flight (PerBee is
// then Scale.InFlight).
//
//   - Up at once: when more than PerBee events wait per instance, the count
//     becomes what keeps each at PerBee or less (ceil(waiting/PerBee)).
//   - Down slowly: only to a count where each instance would have at most
//     half of PerBee waiting (hysteresis: the count is not taken down to
//     where it would go up again at once), and only once the work has
//     stayed that low for CoolDown, and CoolDown after the last change.
//   - Always within Min and Max.
//   - A count set by hand (`hive scale`) stays for CoolDown, whatever
//     the work.
type scaler struct {
	rule    Scale
	changed time.Time // when the count last changed; zero: never
	byHand  time.Time // when `hive scale` last set it; zero: never
	lowFrom time.Time // since when fewer instances would do; zero: not now
}

func newScaler(rule Scale) *scaler {
	if rule.PerBee <= 0 {
		rule.PerBee = DefaultPerBee
	}
	if rule.InFlight > 0 { // the work is calls, and this many a bee
		rule.PerBee = rule.InFlight
	}
	if rule.CoolDown <= 0 {
		rule.CoolDown = DefaultCoolDown
	}
	return &scaler{rule: rule}
}

// decide returns how many instances there should be at now, with bees
// running and waiting events in the queue. If it differs from bees, the
// caller changes the count: decide takes it as done.
func (s *scaler) decide(now time.Time, bees, waiting int) int {
	r := s.rule
	if bees < r.Min || bees > r.Max { // set outside the rule: back inside it
		return s.change(now, min(max(bees, r.Min), r.Max))
	}
	if now.Sub(s.byHand) < r.CoolDown {
		return bees
	}
	if up := s.clamp(ceilDiv(waiting, r.PerBee)); up > bees {
		return s.change(now, up)
	}
	down := s.clamp(ceilDiv(2*waiting, r.PerBee))
	if down >= bees {
		s.lowFrom = time.Time{}
		return bees
	}
	if s.lowFrom.IsZero() {
		s.lowFrom = now
	}
	if now.Sub(s.lowFrom) < r.CoolDown || now.Sub(s.changed) < r.CoolDown {
		return bees
	}
	return s.change(now, down)
}

// setBy notes that the count was set at now by hand (`hive scale`): the
// scaler leaves it for a cool-down.
func (s *scaler) setBy(now time.Time) {
	s.change(now, 0)
	s.byHand = now
}

// change notes that the count changes to count at now, and returns it.
func (s *scaler) change(now time.Time, count int) int {
	s.changed, s.lowFrom = now, time.Time{}
	return count
}

func (s *scaler) clamp(n int) int { return min(max(n, s.rule.Min), s.rule.Max) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Scale sets how many instances of service run, as `hive scale` does, and
// returns how many there were. New instances start at once; those put to
// sleep are the youngest (the highest indexes, the last to come), and they
// stop as at the end: SIGTERM, so that a hive service leaves the registry
// and finishes its work, then SIGKILL after the grace period. Scale does
// not wait for them. A service that scales by its work must stay within
// its min and max, and its scaler leaves the new count for a cool-down.
func (n *Node) Scale(service string, count int) (from int, err error) {
	i := slices.IndexFunc(n.cfg.Services, func(s Service) bool { return s.Name == service })
	if i < 0 {
		names := make([]string, len(n.cfg.Services))
		for i, s := range n.cfg.Services {
			names[i] = s.Name
		}
		return 0, fmt.Errorf("node: no service is called %q; the services are %v", service, names)
	}
	svc := n.cfg.Services[i]
	if r := svc.Scale; r != nil && (count < r.Min || count > r.Max) {
		return 0, fmt.Errorf("node: %s runs between %d and %d instances (hive.yml's min and max), not %d", service, r.Min, r.Max, count)
	}
	if count < 0 {
		return 0, fmt.Errorf("node: %d instances of %s: want 0 or more", count, service)
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.run == nil {
		return 0, fmt.Errorf("node: not running: cannot scale %s", service)
	}
	if s := n.scalers[service]; s != nil {
		s.setBy(time.Now())
	}
	from = len(n.awake(service))
	n.setCount(svc, count)
	n.logger.Info(fmt.Sprintf("%s: %s → %d, by hand", service, count1(from, "bee"), count))
	return from, nil
}

// awake returns the bees of service that are not put to sleep, by index.
// The caller holds n.mu.
func (n *Node) awake(service string) []*bee {
	var list []*bee
	for _, b := range n.bees {
		if b.Service == service && !b.asleep {
			list = append(list, b)
		}
	}
	slices.SortFunc(list, func(a, b *bee) int { return a.Index - b.Index })
	return list
}

// setCount starts or puts to sleep bees of svc until count are awake. The
// caller holds n.mu, and the node runs.
func (n *Node) setCount(svc Service, count int) {
	awake := n.awake(svc.Name)
	for _, b := range awake[min(count, len(awake)):] {
		b.asleep = true
		b.cancel() // supervise stops it, gracefully
	}
	for range count - len(awake) {
		b := n.newBee(svc, n.freeIndex(svc.Name))
		at := n.position(svc.Name)
		n.bees = slices.Insert(n.bees, at, b)
		n.launch(b)
	}
}

// position is where a new bee of service goes in n.bees, so that
// Instances keeps the order of the Config: after the last bee of service
// or of a service before it. The caller holds n.mu.
func (n *Node) position(service string) int {
	upTo := map[string]bool{}
	for _, s := range n.cfg.Services {
		upTo[s.Name] = true
		if s.Name == service {
			break
		}
	}
	at := 0
	for i, b := range n.bees {
		if upTo[b.Service] {
			at = i + 1
		}
	}
	return at
}

// freeIndex returns the lowest index that no bee of service has, awake or
// still stopping. The caller holds n.mu.
func (n *Node) freeIndex(service string) int {
	for i := 0; ; i++ {
		if !slices.ContainsFunc(n.bees, func(b *bee) bool { return b.Service == service && b.Index == i }) {
			return i
		}
	}
}

// autoscale reads the work of every service that scales by it, every
// opts.ScaleEvery, and lets its scaler decide, until ctx ends.
func (n *Node) autoscale(ctx context.Context) {
	tick := time.NewTicker(n.opts.ScaleEvery)
	defer tick.Stop()
	// A queue is missing until the service's first instance declares it,
	// which takes a few seconds at the start: only a read that fails for
	// longer is worth a warning (a queue misspelt in hive.yml, say).
	failingSince := map[string]time.Time{}
	warned := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, svc := range n.cfg.Services {
			work, what, err := n.work(ctx, svc)
			if what == "" {
				continue // scaled by hand only, or not at all
			}
			if err != nil {
				if failingSince[svc.Name].IsZero() {
					failingSince[svc.Name] = time.Now()
				}
				if !warned[svc.Name] && time.Since(failingSince[svc.Name]) >= unreadable && ctx.Err() == nil {
					n.logger.Warn(fmt.Sprintf("%s: cannot read its work; it keeps its bees until it can", svc.Name), "error", err)
					warned[svc.Name] = true
				}
				continue
			}
			delete(failingSince, svc.Name)
			delete(warned, svc.Name)
			n.decide(svc, work, what)
		}
	}
}

// work reads how much work svc has now, and says what the number counts
// ("order.placed waiting", "calls in flight"); what is "" for a service
// that does not scale by its work.
func (n *Node) work(ctx context.Context, svc Service) (work int, what string, err error) {
	switch {
	case svc.Scale == nil:
		return 0, "", nil
	case svc.Scale.Queue != "":
		what = svc.Scale.Queue + " waiting"
		backlog, err := n.opts.Backlog.Backlog(ctx, events.Subscription{Service: svc.Name, Name: svc.Scale.Queue})
		return backlog.Ready, what, err
	case svc.Scale.InFlight > 0:
		calls, err := n.opts.Calls.InFlight(ctx, svc.Name)
		return calls, "calls in flight", err
	}
	return 0, "", nil
}

// unreadable is how long the work of a service may be unreadable before
// the node warns.
const unreadable = 15 * time.Second

// decide lets the scaler of svc decide with work to do (what says what
// it counts), and carries the decision out.
func (n *Node) decide(svc Service, work int, what string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.run == nil {
		return
	}
	bees := len(n.awake(svc.Name))
	want := n.scalers[svc.Name].decide(time.Now(), bees, work)
	if want == bees {
		return
	}
	n.logger.Info(fmt.Sprintf("%s: %d %s, %s → %d", svc.Name, work, what, count1(bees, "bee"), want))
	n.setCount(svc, want)
}

// count1 says "1 bee", "2 bees".
func count1(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
