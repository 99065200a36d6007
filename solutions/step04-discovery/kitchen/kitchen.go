package main

import (
	"context"
	"fmt"
	"sync/atomic"
	// BEGIN SOLUTION
	"time"
	// END SOLUTION

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

// OrderPlaced is the body of an "order.placed" event, as the order service
// sends it. The kitchen declares its own copy: what services share is the
// JSON, not Go code.
type OrderPlaced struct {
	OrderID string `json:"order_id"`
	Items   []Item `json:"items"`
}

// Item is one line of an order: a dish and how many of it.
type Item struct {
	Dish     string `json:"dish"`
	Quantity int    `json:"quantity"`
}

// ReportRequest is what kitchen.report takes: nothing, {}.
type ReportRequest struct{}

// Report is what kitchen.report answers: does this kitchen print the daily
// report?
//
//	{"leader": true, "instance": "kitchen-5e6f7a8b"}
type Report struct {
	Leader   bool   `json:"leader"`
	Instance string `json:"instance"`
}

// kitchen is the state of one kitchen instance.
type kitchen struct {
	svc      *hive.Service
	servers  []string // the ZooKeeper servers, host:port each
	election string   // the election's path in ZooKeeper

	leading atomic.Bool                 // set while this kitchen leads
	stop    func(context.Context) error // ends the campaign; set by start
}

// New returns a kitchen that campaigns for the daily report in the
// election /<namespace>/elections/kitchen-report, on the ZooKeeper
// servers given (host:port each).
func New(servers []string, namespace string) *hive.Service {
	svc := hive.New("kitchen")
	k := &kitchen{svc: svc, servers: servers, election: zookeeper.Root(servers, namespace) + "/elections/kitchen-report"}
	hive.On(svc, "order.placed", k.cook)
	hive.Handle(svc, "report", k.report)
	svc.OnStart(k.start)
	svc.OnStop(k.end)
	return svc
}

// cook cooks an order: in this step, it only says so. (Step 3 is where
// the kitchen learned to cook.)
func (k *kitchen) cook(ctx context.Context, e hive.Event[OrderPlaced]) error {
	k.svc.Logger().InfoContext(ctx, "cooked", "order_id", e.Body.OrderID, "items", e.Body.Items)
	return nil
}

// report says whether this kitchen leads, and so prints the daily report.
func (k *kitchen) report(ctx context.Context, _ ReportRequest) (Report, error) {
	return Report{Leader: k.leading.Load(), Instance: k.svc.ID()}, nil
}

// start opens a ZooKeeper session of the kitchen's own, and starts the
// campaign for the daily report in the background.
func (k *kitchen) start(ctx context.Context) error {
	// The election works on znodes itself, so it needs a session of its
	// own: hive's registry keeps its session to itself. Should the kitchen
	// crash, ZooKeeper ends this session, and with it the kitchen's place
	// in line, after the session timeout: 4 seconds, Connect's default.
	conn, err := zookeeper.Connect(ctx, k.servers, zookeeper.Options{Logger: k.svc.Logger()})
	if err != nil {
		return err
	}
	// The campaign lasts as long as the kitchen runs, not as long as
	// starting it takes: keep ctx's values, drop its deadline.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	candidate := NewCandidate(conn, k.election, k.svc.ID())
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.campaign(ctx, candidate)
	}()

	k.stop = func(stopCtx context.Context) error {
		cancel()
		// Closing the session deletes its ephemeral znodes at once: the
		// kitchen's place in line goes, and the next kitchen takes over
		// now rather than when a session timeout is over.
		defer conn.Close()
		select {
		case <-done:
			return nil
		case <-stopCtx.Done():
			return fmt.Errorf("campaign did not return when its context ended: %w", stopCtx.Err())
		}
	}
	return nil
}

// end stops the campaign when the kitchen stops. (hive runs it only if
// start ran and succeeded, so k.stop is set.)
func (k *kitchen) end(ctx context.Context) error {
	return k.stop(ctx)
}

// campaign campaigns with c until ctx ends: it waits until c leads, prints
// the daily report, waits until c loses the lead, and campaigns again.
func (k *kitchen) campaign(ctx context.Context, c *Candidate) {
	log := k.svc.Logger()
	// TODO(step04) Task 4: until ctx ends: c.Campaign(ctx); then set k.leading and log "I am the leader: printing the daily report"; wait for <-c.Lost() or ctx; clear k.leading; campaign again.
	// BEGIN SOLUTION
	for ctx.Err() == nil {
		if err := c.Campaign(ctx); err != nil {
			if ctx.Err() != nil {
				return // stopping
			}
			log.WarnContext(ctx, "campaign for the daily report failed; trying again in a second", "error", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			continue
		}
		k.leading.Store(true)
		log.InfoContext(ctx, "I am the leader: printing the daily report")
		select {
		case <-c.Lost():
			log.WarnContext(ctx, "I lost the lead: another kitchen prints the daily report now")
		case <-ctx.Done():
		}
		k.leading.Store(false)
	}
	// STUB
	// log.WarnContext(ctx, "TODO(step04) Task 4: campaign for the daily report in campaign (kitchen/kitchen.go)")
	// END SOLUTION
}
