// Package chaos puts a beehive under load and hurts it on purpose: it
// places orders at a steady rate while it kills bees, and then checks that
// no order was lost or doubled. This is a chaos test: instead of hoping
// that failures are handled, cause them, and look.
//
// Run works on any running beehive, described by a Target. StartBeehive
// starts one as `hive node` does, each bee a process of its own, on real
// brokers; the chaos test of this step and `make demo` use it. (`make
// demo` also runs a beehive inside one process, when no brokers run.)
//
// This package is given, apart from Audit (task 5).
package chaos

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/registry"

	"github.com/hive-workshop/microservices-go/step05-beehive/customer"
	"github.com/hive-workshop/microservices-go/step05-beehive/kitchen"
	"github.com/hive-workshop/microservices-go/step05-beehive/ledger"
	"github.com/hive-workshop/microservices-go/step05-beehive/order"
)

// Target is a running beehive, as Run sees it: how to reach it, and how to
// hurt it.
type Target struct {
	Registry registry.Registry // where the customer finds order
	Bus      events.Bus        // where Run listens to the order events; it must list dead letters (both of hive's buses do)
	Ledger   ledger.Ledger     // the ledger the services share, for the audit

	// Kill kills a random bee, with no chance to clean up; the beehive
	// starts it again.
	Kill func(ctx context.Context) (Killed, error)
}

// Killed names a bee that Kill killed.
type Killed struct {
	Name     string // how the beehive calls it: "kitchen.1"
	Instance string // its hive instance ID, if known: "kitchen-1a2b3c4d"
}

// An Incident is trouble that Run causes once, at a given moment of the run.
type Incident struct {
	At   time.Duration                             // after the first order
	Name string                                    // "close RabbitMQ's connections"
	Do   func(ctx context.Context) (string, error) // returns what happened, in words

	// Within is how long Do may take, from its start; a minute if 0. It
	// is the incident's own time, not the load's: an incident that starts
	// near the end of the load still gets all of it.
	Within time.Duration
}

// ErrMachine marks a failure of the machine that the beehive runs on, not
// of the beehive's code: a tool such as rabbitmqctl is missing, fails or
// takes too long, or the bees do not start in time. A run that meets it
// proves nothing either way; run it again on a machine less busy.
var ErrMachine = errors.New("the machine, not your code")

// Options say how Run pushes the beehive.
type Options struct {
	Rate      float64         // orders per second
	Duration  time.Duration   // how long new orders come
	KillEvery time.Duration   // how often a bee is killed; 0 for never
	Incidents []Incident      // more trouble, each once
	Policy    customer.Policy // how hard the customer tries; the zero Policy means customer.DefaultPolicy()

	// Settle is how long Run waits, once the customer is done, for every
	// accepted order to be cooked and announced.
	Settle time.Duration

	// StopAtFirstFailure ends the run as soon as the customer gives up on
	// an order: a test then fails at once, instead of after the whole run.
	StopAtFirstFailure bool

	Progress io.Writer    // a line every second and one per kill; nil for none
	Logger   *slog.Logger // for hive's client, which warns on every retry; nil: quiet
}

// Report is what happened in a run, and what the audit found.
type Report struct {
	Rate      float64
	Elapsed   time.Duration     // the whole run, settling included
	Results   []customer.Result // one per order, in the order they were placed
	Slowest   time.Duration     // the longest the customer waited for an order under load, retries included
	Kills     []Happening
	Incidents []Happening
	Failures  []Happening // the orders the customer gave up on, each at the moment it was placed

	// FailedButRecorded counts the failed orders that order recorded all
	// the same: they are cooked, and sending the same key again would
	// have told the customer so.
	FailedButRecorded int

	Cooked      map[string]string // kitchen instance by order ID, from the ledger
	HeardPlaced int               // "order.placed" events heard, duplicates included
	HeardCooked int               // "order.cooked" events heard, duplicates included
	DeadLetters []events.DeadLetter

	Settled  bool // every accepted order was cooked and announced in time
	Findings Findings
}

// A Happening is a kill or an incident, and when it happened.
type Happening struct {
	At       time.Duration
	What     string
	Instance string // the hive instance ID it hit, if known
	Err      error  // why the incident failed; nil if it did not
}

// OK reports whether nothing was lost, doubled or left behind.
func (r *Report) OK() bool {
	return r.Settled && r.Findings.OK() && len(r.DeadLetters) == 0
}

// The subscriptions whose dead letters Run checks: the kitchen's, as the
// kitchen service declares them, and its own. The order service's (its
// reminders, order.due) are only deleted with the beehive.
var (
	kitchenSubscriptions = kitchen.New(nil, kitchen.Options{}).Subscriptions()
	orderSubscriptions   = order.New(nil).Subscriptions()
	watchSubscription    = events.Subscription{Service: "chaos", Name: "order.*", Pattern: "order.*"}
)

// Run places orders on target at opts.Rate for opts.Duration, kills a bee
// every opts.KillEvery and causes opts.Incidents, waits until every
// accepted order is cooked (or opts.Settle runs out), and audits.
//
// Before any of that it checks, with a single order, that the beehive
// works at all; if not, it returns an error that says what is wrong. It
// also returns an error if it cannot listen to events or read the ledger.
// Everything else, lost orders included, is in the Report.
func Run(ctx context.Context, target Target, opts Options) (*Report, error) {
	if _, ok := target.Bus.(events.DeadLetterLister); !ok {
		return nil, fmt.Errorf("chaos: the bus %T cannot list dead letters", target.Bus)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	client := hive.NewClient(target.Registry, hive.ClientOptions{Logger: logger})
	defer client.Close()
	if opts.Policy == (customer.Policy{}) {
		opts.Policy = customer.DefaultPolicy()
	}
	r := &run{
		opts:     opts,
		target:   target,
		customer: customer.New(client, opts.Policy),
		name:     rand.Text()[:6],
		heard:    make(map[string][]string),
		report:   &Report{Rate: opts.Rate},
		progress: opts.Progress,
	}
	if r.progress == nil {
		r.progress = io.Discard
	}

	// Listen first, so that no "order.cooked" goes unheard. The queue is
	// durable: events wait in it even while the connection is down.
	stop, err := target.Bus.Subscribe(ctx, watchSubscription, r.hear)
	if err != nil {
		return nil, fmt.Errorf("chaos: listen to order events: %w", err)
	}
	defer stop()

	// The orders cooked before this run are an earlier run's: a beehive
	// may be run several times (as the cluster test runs one per fault).
	if r.before, err = r.cooked(ctx); err != nil {
		return nil, err
	}
	if err := r.smokeTest(ctx); err != nil {
		return nil, err
	}
	r.start = time.Now()
	r.load(ctx)
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	r.report.Elapsed = time.Since(r.start)
	return r.report, nil
}

// run is the state of one Run.
type run struct {
	opts     Options
	target   Target
	customer *customer.Customer
	name     string            // the first part of every idempotency key
	before   map[string]string // the orders cooked before the run, which it does not audit
	start    time.Time
	progress io.Writer

	mu          sync.Mutex
	heard       map[string][]string // kitchens named by "order.cooked", by order ID
	heardPlaced int
	report      *Report
}

// hear handles the order events: it counts the "order.placed" ones, and
// notes the kitchen that each "order.cooked" names.
func (r *run) hear(ctx context.Context, e events.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Type {
	case "order.placed":
		r.heardPlaced++
	case "order.cooked":
		var body struct {
			OrderID string `json:"order_id"`
			Kitchen string `json:"kitchen"`
		}
		if err := json.Unmarshal(e.Body, &body); err != nil {
			return fmt.Errorf("order.cooked %s: %w", e.ID, err)
		}
		r.heard[body.OrderID] = append(r.heard[body.OrderID], body.Kitchen)
	}
	return nil
}

// announced reports whether an "order.cooked" named the order id.
func (r *run) announced(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.heard[id]) > 0
}

// smokeTest places one order twice with the same key, and waits until it is
// cooked: the beehive must work before it is worth hurting.
func (r *run) smokeTest(ctx context.Context) error {
	key := r.name + "-first"
	items := []customer.Item{{DishID: 1, Quantity: 1}}
	first := r.customer.Place(ctx, key, items)
	if first.Err != nil {
		return fmt.Errorf("chaos: before any chaos, the first order failed: %w", first.Err)
	}
	again := r.customer.Place(ctx, key, items)
	if again.Err != nil {
		return fmt.Errorf("chaos: before any chaos, placing the first order again with the same key failed: %w", again.Err)
	}
	if again.Reply.OrderID != first.Reply.OrderID {
		return fmt.Errorf("chaos: before any chaos, the same idempotency key gave two orders, %s and %s: order.place must answer a key it has seen with the same order (task 2)",
			first.Reply.OrderID, again.Reply.OrderID)
	}
	r.report.Results = append(r.report.Results, first)

	// A kitchen records an order in the ledger before it announces it: an
	// order announced but still not in the ledger a second later (a
	// ZooKeeper server may lag a moment behind another) was never
	// recorded. Waiting for either may take long on a busy machine.
	id := first.Reply.OrderID
	const within = 30 * time.Second
	deadline := time.Now().Add(within)
	var announced time.Time
	for {
		if announced.IsZero() && r.announced(id) {
			announced = time.Now()
		}
		_, cooked, err := r.target.Ledger.Get(ctx, "cooked/"+id)
		if err != nil {
			return fmt.Errorf("chaos: %w", err)
		}
		if cooked {
			return nil
		}
		if !announced.IsZero() && time.Since(announced) > time.Second {
			return fmt.Errorf("chaos: before any chaos, order %s was announced as cooked, but the ledger has no cooked/%s. The kitchens must record every order they cook (task 4)", id, id)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: before any chaos, order %s was neither cooked nor announced within %v; the bees' output may say why", id, within)
		}
		if err := wait(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// load places orders at the rate, kills bees and causes the incidents,
// until the time is up; then it waits for the orders under way.
func (r *run) load(ctx context.Context) {
	loadCtx, stopLoad := context.WithTimeout(ctx, r.opts.Duration)
	defer stopLoad()
	// The customer's orders outlive the load: an order under way at the
	// end still gets its attempts. StopAtFirstFailure cuts them short.
	orders, stopOrders := context.WithCancel(ctx)
	defer stopOrders()
	var wg sync.WaitGroup
	defer wg.Wait() // before stopOrders: deferred calls run last first

	for _, inc := range r.opts.Incidents {
		wg.Go(func() {
			if wait(loadCtx, inc.At) != nil {
				return
			}
			what, err := cause(ctx, inc)
			r.happened(&r.report.Incidents, "!", what, "", err)
		})
	}

	placeEvery := time.NewTicker(time.Duration(float64(time.Second) / r.opts.Rate))
	defer placeEvery.Stop()
	killEvery := newTicker(r.opts.KillEvery)
	defer killEvery.Stop()
	tellEvery := time.NewTicker(time.Second)
	defer tellEvery.Stop()

	for n := 0; ; {
		select {
		case <-loadCtx.Done():
			fmt.Fprintf(r.progress, "%5s  no more new orders; waiting for those under way\n", r.since())
			return
		case <-tellEvery.C:
			r.tell()
			continue
		case <-killEvery.C:
			killed, err := r.target.Kill(loadCtx)
			if err != nil {
				r.happened(&r.report.Kills, "✗", fmt.Sprintf("no bee killed: %v", err), "", nil)
			} else {
				r.happened(&r.report.Kills, "✗", "killed "+killed.Name, killed.Instance, nil)
			}
			continue
		case <-placeEvery.C:
		}
		n++
		key := fmt.Sprintf("%s-%d", r.name, n)
		items := []customer.Item{{DishID: 1 + n%5, Quantity: 1 + n%3}}
		if n%4 == 0 {
			items = append(items, customer.Item{DishID: 5, Quantity: 1})
		}
		wg.Go(func() {
			began := time.Now()
			res := r.customer.Place(orders, key, items)
			took := time.Since(began)
			r.mu.Lock()
			r.report.Results = append(r.report.Results, res)
			r.report.Slowest = max(r.report.Slowest, took)
			if res.Err != nil {
				r.report.Failures = append(r.report.Failures, Happening{At: began.Sub(r.start),
					What: fmt.Sprintf("order %s failed after %d attempts: %v", key, res.Attempts, res.Err)})
			}
			r.mu.Unlock()
			if res.Err != nil {
				fmt.Fprintf(r.progress, "%5s  order %s FAILED after %d attempts: %v\n", r.since(), key, res.Attempts, res.Err)
				if r.opts.StopAtFirstFailure {
					stopLoad()
					stopOrders()
				}
			}
		})
	}
}

// cause causes inc, giving it inc.Within, and returns what happened, in
// words. An incident that runs out of time failed because of the machine:
// the tools it runs (rabbitmqctl takes seconds to start when the machine
// is busy) or the brokers were too slow.
func cause(ctx context.Context, inc Incident) (string, error) {
	within := cmp.Or(inc.Within, time.Minute)
	timeUp := fmt.Errorf("not done within %v", within)
	ctx, cancel := context.WithTimeoutCause(ctx, within, timeUp)
	defer cancel()
	what, err := inc.Do(ctx)
	if err != nil && context.Cause(ctx) == timeUp && !errors.Is(err, ErrMachine) {
		err = fmt.Errorf("%w: %v: %w", ErrMachine, timeUp, err)
	}
	if err != nil {
		return fmt.Sprintf("%s: failed: %v", inc.Name, err), err
	}
	return what, nil
}

// settle waits until every accepted order is cooked and announced, or
// Settle runs out; then it reads the ledger and the dead letters, and
// audits.
func (r *run) settle(ctx context.Context) error {
	deadline := time.Now().Add(r.opts.Settle)
	for {
		cooked, err := r.cooked(ctx)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.report.Cooked = cooked
		waiting := 0
		for _, res := range r.report.Results {
			if res.Err == nil && (cooked[res.Reply.OrderID] == "" || len(r.heard[res.Reply.OrderID]) == 0) {
				waiting++
			}
		}
		r.mu.Unlock()
		if waiting == 0 {
			r.report.Settled = true
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(r.progress, "%5s  gave up waiting: %d accepted orders are not cooked and announced after %v\n", r.since(), waiting, r.opts.Settle)
			break
		}
		if err := wait(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}

	bus := r.target.Bus.(events.DeadLetterLister)
	for _, s := range append([]events.Subscription{watchSubscription}, kitchenSubscriptions...) {
		dead, err := bus.DeadLetters(ctx, s)
		if err != nil {
			return fmt.Errorf("chaos: %w", err)
		}
		r.report.DeadLetters = append(r.report.DeadLetters, dead...)
	}

	recorded := make(map[string]string) // order ID by idempotency key, of the failed orders that order recorded
	for _, res := range r.report.Results {
		if res.Err == nil {
			continue
		}
		data, found, err := r.target.Ledger.Get(ctx, "orders/"+res.Key)
		if err != nil {
			return fmt.Errorf("chaos: read the ledger: %w", err)
		}
		var o order.Order
		if found && json.Unmarshal(data, &o) == nil {
			recorded[res.Key] = o.ID
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.report.HeardPlaced = r.heardPlaced
	for _, kitchens := range r.heard {
		r.report.HeardCooked += len(kitchens)
	}
	ev := Evidence{Accepted: make(map[string]string), Cooked: maps.Clone(r.report.Cooked), Heard: r.heard}
	for _, res := range r.report.Results {
		if res.Err != nil {
			ev.Failed = append(ev.Failed, res.Key)
		} else {
			ev.Accepted[res.Key] = res.Reply.OrderID
		}
	}
	// An order the customer gave up on may have been recorded all the
	// same (the answer was lost, or order could record it but not tell
	// the kitchens): it is cooked, and the customer would get it by
	// sending the same key again. That is no double; the audit counts it
	// among the failed ones.
	for _, key := range ev.Failed {
		if id := recorded[key]; id != "" {
			delete(ev.Cooked, id)
			r.report.FailedButRecorded++
		}
	}
	r.report.Findings = Audit(ev)
	fmt.Fprintf(r.progress, "%5s  settled: %v\n", r.since(), r.report.Settled)
	return nil
}

// cooked reads the ledger's cooked orders, but those cooked before the
// run: the kitchen of each, by order ID.
func (r *run) cooked(ctx context.Context) (map[string]string, error) {
	records, err := r.target.Ledger.List(ctx, "cooked")
	if err != nil {
		return nil, fmt.Errorf("chaos: read the ledger: %w", err)
	}
	cooked := make(map[string]string, len(records))
	for id, data := range records {
		var c struct {
			Kitchen string `json:"kitchen"`
		}
		if err := json.Unmarshal(data, &c); err != nil || c.Kitchen == "" {
			c.Kitchen = "?" // cooked, by a kitchen that left no name
		}
		if _, earlier := r.before[id]; !earlier {
			cooked[id] = c.Kitchen
		}
	}
	return cooked, nil
}

// tell writes a line of progress.
func (r *run) tell() {
	r.mu.Lock()
	placed, accepted, retried := len(r.report.Results), 0, 0
	for _, res := range r.report.Results {
		if res.Err == nil {
			accepted++
		}
		if res.Attempts > 1 {
			retried++
		}
	}
	heard := len(r.heard)
	r.mu.Unlock()
	fmt.Fprintf(r.progress, "%5s  orders answered %4d  accepted %4d (%d after a retry)  cooked and announced %4d\n",
		r.since(), placed, accepted, retried, heard)
}

// happened records a kill or an incident and tells about it.
func (r *run) happened(list *[]Happening, mark, what, instance string, err error) {
	r.mu.Lock()
	*list = append(*list, Happening{At: time.Since(r.start), What: what, Instance: instance, Err: err})
	r.mu.Unlock()
	if instance != "" {
		what += " (" + instance + ")"
	}
	fmt.Fprintf(r.progress, "%5s  %s %s\n", r.since(), mark, what)
}

func (r *run) since() string {
	return fmt.Sprintf("%.1fs", time.Since(r.start).Seconds())
}

// newTicker returns a ticker for every d, or one that never ticks if d is
// 0.
func newTicker(d time.Duration) *time.Ticker {
	if d <= 0 {
		t := time.NewTicker(time.Hour)
		t.Stop()
		return t
	}
	return time.NewTicker(d)
}

// wait waits for d, or until ctx ends, and then returns ctx's error.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
