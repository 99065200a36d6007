package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// A picture is what hive web's page shows: the hive at one moment, as
// JSON. The page draws it again and again; it holds no state of its own
// beyond what it needs to animate a bee that comes or goes.
type picture struct {
	Namespace string        `json:"namespace"`
	Time      time.Time     `json:"time"`
	Services  []serviceView `json:"services"`
	Queues    []queueView   `json:"queues"`
	Timeline  []moment      `json:"timeline"` // newest first
	Notes     []string      `json:"notes,omitempty"`
	Viewers   int           `json:"viewers"`
	Polled    time.Time     `json:"polled"` // when the instances were last asked
	Edges     []edgeView    `json:"edges"`
}

// An edgeView is the calls of one service to another, from the callers'
// status (calls_out), per second since the previous poll.
type edgeView struct {
	From   string  `json:"from"`
	To     string  `json:"to"`
	Calls  float64 `json:"calls_per_s"`
	Errors float64 `json:"errors_per_s"`
	P99    float64 `json:"p99_ms"` // the highest of the callers' p99 of their latest calls to To
}

// A serviceView is one service: its instances and, summed over them, its
// rates per second since the previous poll.
type serviceView struct {
	Name      string         `json:"name"`
	Instances []instanceView `json:"instances"`
	Calls     float64        `json:"calls_per_s"`  // RPCs answered, the picture's own status calls left out
	Errors    float64        `json:"errors_per_s"` // RPCs answered with an error
	Handled   float64        `json:"handled_per_s"`
	Failed    float64        `json:"failed_per_s"` // handler runs that failed (and will be tried again or given up)
	P99       float64        `json:"p99_ms"`       // the highest of the instances' p99
}

// An instanceView is one instance, as the registry lists it. Up says
// whether it answered its latest status call: a killed bee stops
// answering at once, while its registry record stays until its ZooKeeper
// session times out (4 s).
type instanceView struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	PID      int    `json:"pid,omitempty"`
	Up       bool   `json:"up"`
	Known    bool   `json:"known"` // asked at least once
	Calls    int64  `json:"calls"`
}

// A queueView is the work queue of one subscription, and its dead letters.
type queueView struct {
	Subscription string `json:"subscription"` // SERVICE.QUEUE, as hive dead names it
	Service      string `json:"service"`
	Pattern      string `json:"pattern"`
	Ready        int    `json:"ready"`
	Consumers    int    `json:"consumers"`
	Dead         int    `json:"dead"`
	Error        string `json:"error,omitempty"`
}

// A moment is a notable event for the timeline.
type moment struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // joined, left, down, dead, failed
	Text string    `json:"text"`
}

// timelineLength is how many moments the page shows.
const timelineLength = 40

// An observer keeps the picture of a hive up to date: it watches the
// registry for instances, asks every instance for its status once per
// poll, and reads the subscriptions' queues through the bus.
type observer struct {
	namespace string
	reg       registry.Registry
	client    *hive.Client
	backlog   events.BacklogReader // nil: the bus cannot count
	interval  time.Duration        // between polls: the most often any instance is asked
	began     time.Time

	mu        sync.Mutex
	instances map[string][]registry.Instance // by service, from the watches
	watching  map[string]bool
	last      map[string]counts     // by instance ID: the previous poll's counters
	up        map[string]bool       // by instance ID: answered the previous poll
	subs      map[string][]subQueue // by service, from inspect
	queues    map[string]queueView  // by subscription, the previous read
	timeline  []moment
	viewers   int
	current   picture
	arrived   chan struct{} // a first viewer came: poll now, not at the next tick
}

// counts are an instance's counters at one moment.
type counts struct {
	at                             time.Time
	calls, errors, handled, failed int64
	out                            map[string]hive.CallCount
}

type subQueue struct{ name, pattern string }

func newObserver(namespace string, reg registry.Registry, client *hive.Client, backlog events.BacklogReader, interval time.Duration) *observer {
	return &observer{
		namespace: namespace, reg: reg, client: client, backlog: backlog, interval: interval, began: time.Now(),
		instances: map[string][]registry.Instance{}, watching: map[string]bool{},
		last: map[string]counts{}, up: map[string]bool{}, subs: map[string][]subQueue{},
		queues: map[string]queueView{}, arrived: make(chan struct{}, 1),
	}
}

// run polls until ctx ends, but only while somebody looks at the picture:
// with no page open, hive web costs the instances nothing.
func (o *observer) run(ctx context.Context) {
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	var last time.Time
	for {
		if o.watchers() > 0 {
			last = time.Now()
			o.poll(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-o.arrived:
			if time.Since(last) >= o.interval { // a page reloaded waits for the tick
				tick.Reset(o.interval)
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}
}

func (o *observer) watchers() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.viewers
}

// look counts a viewer in, and returns a function that counts it out.
func (o *observer) look() (done func()) {
	o.mu.Lock()
	o.viewers++
	if o.viewers == 1 {
		select {
		case o.arrived <- struct{}{}:
		default: // a poll is on its way already
		}
	}
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		o.viewers--
		o.mu.Unlock()
	}
}

// picture returns the latest picture, with the instances as the registry
// lists them now (a watch may have changed them since the poll).
func (o *observer) picture() picture {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.current
	p.Namespace, p.Time, p.Viewers = o.namespace, time.Now(), o.viewers
	p.Timeline = slices.Clone(o.timeline)
	slices.Reverse(p.Timeline)
	byName := map[string]serviceView{}
	for _, s := range p.Services {
		byName[s.Name] = s
	}
	p.Services = nil
	for _, name := range slices.Sorted(maps.Keys(o.instances)) {
		list := o.instances[name]
		if len(list) == 0 {
			continue
		}
		view := byName[name]
		view.Name, view.Instances = name, make([]instanceView, 0, len(list))
		for _, inst := range list {
			_, known := o.last[inst.ID]
			view.Instances = append(view.Instances, instanceView{
				ID: inst.ID, Endpoint: inst.Endpoint, PID: inst.PID,
				Up: o.up[inst.ID] || !known, Known: known, Calls: o.last[inst.ID].calls,
			})
		}
		p.Services = append(p.Services, view)
	}
	if p.Queues == nil {
		p.Queues = []queueView{}
	}
	if p.Services == nil {
		p.Services = []serviceView{}
	}
	if p.Timeline == nil {
		p.Timeline = []moment{}
	}
	if p.Edges == nil {
		p.Edges = []edgeView{}
	}
	return p
}

// note adds a moment to the timeline.
func (o *observer) note(kind, format string, args ...any) {
	o.timeline = append(o.timeline, moment{Time: time.Now(), Kind: kind, Text: fmt.Sprintf(format, args...)})
	if len(o.timeline) > timelineLength {
		o.timeline = o.timeline[len(o.timeline)-timelineLength:]
	}
}

// poll asks the registry for new services, every instance for its status,
// a new service for its subscriptions, and the bus for every queue.
func (o *observer) poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, o.interval*9/10)
	defer cancel()
	services, err := o.reg.Services(ctx)
	var notes []string
	if err != nil {
		notes = append(notes, fmt.Sprintf("the registry: %v", err))
	}
	for _, svc := range services {
		o.watch(ctx, svc)
	}

	o.mu.Lock()
	var all []registry.Instance
	for _, list := range o.instances {
		all = append(all, list...)
	}
	var inspect []string
	for svc, list := range o.instances {
		if _, ok := o.subs[svc]; !ok && len(list) > 0 {
			inspect = append(inspect, svc)
		}
	}
	o.mu.Unlock()

	statuses := make([]hive.Status, len(all))
	errs := make([]error, len(all))
	inspections := make([]hive.Inspection, len(inspect))
	inspectErrs := make([]error, len(inspect))
	var wg sync.WaitGroup
	for i, inst := range all {
		wg.Go(func() { errs[i] = o.client.CallInstance(ctx, inst, "status", nil, &statuses[i]) })
	}
	for i, svc := range inspect {
		wg.Go(func() { inspectErrs[i] = o.client.Call(ctx, svc+".inspect", nil, &inspections[i]) })
	}
	wg.Wait()

	o.mu.Lock()
	for i, svc := range inspect {
		if inspectErrs[i] != nil {
			continue // asked again at the next poll
		}
		var subs []subQueue
		for _, e := range inspections[i].Events {
			if !e.Broadcast { // a broadcast queue belongs to one instance, and dies with it
				subs = append(subs, subQueue{name: e.Pattern, pattern: e.Pattern})
			}
		}
		o.subs[svc] = subs
	}
	var reads []queueView
	for _, svc := range slices.Sorted(maps.Keys(o.subs)) {
		for _, s := range o.subs[svc] {
			reads = append(reads, queueView{Subscription: svc + "." + s.name, Service: svc, Pattern: s.pattern})
		}
	}
	o.mu.Unlock()

	if o.backlog == nil {
		notes = append(notes, "queues: this event bus cannot count what waits in a queue (use HIVE_EVENTS=rabbitmq)")
	} else {
		for i := range reads {
			wg.Go(func() {
				q := &reads[i]
				sub := events.Subscription{Service: q.Service, Name: q.Subscription[len(q.Service)+1:], Pattern: q.Pattern}
				b, err := o.backlog.Backlog(ctx, sub)
				if err != nil {
					q.Error = err.Error()
					return
				}
				q.Ready, q.Consumers, q.Dead = b.Ready, b.Consumers, b.Dead
			})
		}
		wg.Wait()
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	views := map[string]*serviceView{}
	edges := map[[2]string]*edgeView{}
	var order []string
	for i, inst := range all {
		v := views[inst.Service]
		if v == nil {
			v = &serviceView{Name: inst.Service}
			views[inst.Service] = v
			order = append(order, inst.Service)
		}
		wasUp, known := o.up[inst.ID]
		if errs[i] != nil {
			if wasUp || !known {
				o.note("down", "%s %s stopped answering: %s", inst.Service, inst.ID, why(errs[i]))
			}
			o.up[inst.ID] = false
			if _, ok := o.last[inst.ID]; !ok {
				o.last[inst.ID] = counts{at: time.Now()}
			}
			continue
		}
		s := statuses[i]
		now := counts{at: time.Now(), calls: s.Calls, errors: s.Errors, handled: s.EventsHandled, failed: s.EventsFailed, out: s.CallsOut}
		for to := range s.CallsOut { // an edge once called, if only at 0 calls/s now
			if edges[[2]string{inst.Service, to}] == nil {
				edges[[2]string{inst.Service, to}] = &edgeView{From: inst.Service, To: to}
			}
		}
		if prev, ok := o.last[inst.ID]; ok && wasUp {
			for to, c := range s.CallsOut {
				e, dt := edges[[2]string{inst.Service, to}], now.at.Sub(prev.at).Seconds()
				e.Calls += rate(c.Calls-prev.out[to].Calls, dt)
				e.Errors += rate(c.Errors-prev.out[to].Errors, dt)
				e.P99 = max(e.P99, c.LatencyP99)
			}
			dt := now.at.Sub(prev.at).Seconds()
			// The previous status call is counted in s.Calls now: it
			// is the observer's, not the hive's work.
			v.Calls += rate(now.calls-prev.calls-1, dt)
			v.Errors += rate(now.errors-prev.errors, dt)
			v.Handled += rate(now.handled-prev.handled, dt)
			failed := now.failed - prev.failed
			v.Failed += rate(failed, dt)
			if failed > 0 {
				o.note("failed", "%s %s: %d handler %s failed", inst.Service, inst.ID, failed, plural(failed, "run", "runs"))
			}
		}
		if known && !wasUp {
			o.note("joined", "%s %s answers again", inst.Service, inst.ID)
		}
		v.P99 = max(v.P99, s.LatencyP99)
		o.last[inst.ID], o.up[inst.ID] = now, true
	}
	o.current.Services = nil
	for _, name := range order {
		o.current.Services = append(o.current.Services, *views[name])
	}
	for _, q := range reads {
		if prev, ok := o.queues[q.Subscription]; ok && q.Error == "" && q.Dead > prev.Dead {
			n := q.Dead - prev.Dead
			o.note("dead", "%d new dead %s in %s: hive dead list %s", n, plural(int64(n), "letter", "letters"), q.Subscription, q.Subscription)
		} else if !ok && q.Dead > 0 {
			o.note("dead", "%s holds %d dead %s: hive dead list %s", q.Subscription, q.Dead, plural(int64(q.Dead), "letter", "letters"), q.Subscription)
		}
		if q.Error == "" {
			o.queues[q.Subscription] = q
		}
	}
	o.current.Edges = nil
	for _, key := range slices.SortedFunc(maps.Keys(edges), func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) }) {
		o.current.Edges = append(o.current.Edges, *edges[key])
	}
	o.current.Queues = reads
	o.current.Notes = notes
	o.current.Polled = time.Now()
}

// watch follows the instances of svc through the registry, once, and
// notes who joins and who leaves.
func (o *observer) watch(ctx context.Context, svc string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.watching[svc] {
		return
	}
	updates, err := o.reg.Watch(context.WithoutCancel(ctx), svc) // for as long as hive web runs
	if err != nil {
		return // tried again at the next poll
	}
	o.watching[svc] = true
	go func() {
		// The instances there when hive web began did not join now.
		first := time.Since(o.began) < 2*o.interval
		for list := range updates {
			o.mu.Lock()
			before := o.instances[svc]
			if first {
				before, first = list, false
			}
			for _, inst := range list {
				if !slices.ContainsFunc(before, func(b registry.Instance) bool { return b.ID == inst.ID }) {
					o.note("joined", "%s %s joined at %s", svc, inst.ID, inst.Endpoint)
				}
			}
			for _, b := range before {
				if !slices.ContainsFunc(list, func(inst registry.Instance) bool { return b.ID == inst.ID }) {
					o.note("left", "%s %s left the registry", svc, b.ID)
					delete(o.last, b.ID)
					delete(o.up, b.ID)
				}
			}
			o.instances[svc] = list
			o.mu.Unlock()
		}
	}()
}

func rate(n int64, seconds float64) float64 {
	if n <= 0 || seconds <= 0 {
		return 0
	}
	return float64(n) / seconds
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// why says in a few words why an instance did not answer: the room
// reads it on the timeline.
func why(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "its port is closed (killed?)"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, hive.ErrTimeout):
		return "no answer in time (frozen? overloaded?)"
	}
	s := err.Error()
	if len(s) > 60 {
		s = "…" + s[len(s)-59:]
	}
	return s
}
