package main

import (
	"context"

	"github.com/hive-workshop/microservices-go/hive"
)

// KitchensRequest is what dispatch.kitchens takes: nothing, {}.
type KitchensRequest struct{}

// KitchensReply is what dispatch.kitchens answers: the kitchens on duty,
// sorted by id.
//
//	{"kitchens": [{"id": "kitchen-1a2b3c4d", "endpoint": "127.0.0.1:41234", "pid": 4242}]}
type KitchensReply struct {
	Kitchens []Kitchen `json:"kitchens"`
}

// Kitchen is one kitchen instance on duty.
type Kitchen struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"` // where it answers RPCs
	PID      int    `json:"pid"`      // its process, for kill
}

// dispatch is the state of one dispatch instance.
type dispatch struct {
	svc    *hive.Service
	roster roster
	stop   context.CancelFunc // ends following the kitchens; set by start
}

// New returns the dispatch service, which knows the kitchens on duty.
func New() *hive.Service {
	svc := hive.New("dispatch")
	d := &dispatch{svc: svc}
	hive.Handle(svc, "kitchens", d.kitchens, hive.Idempotent())
	svc.OnStart(d.start)
	svc.OnStop(d.end)
	return svc
}

// start starts following the kitchens, in the background, in the registry
// that dispatch runs with, where the kitchens register too: ZooKeeper,
// with env.Run.
func (d *dispatch) start(ctx context.Context) error {
	reg := d.svc.Registry()
	// Follow the kitchens as long as dispatch runs, not as long as
	// starting takes: keep ctx's values, drop its deadline.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.stop = cancel
	d.roster.log = d.svc.Logger()
	go func() {
		if err := d.roster.follow(ctx, reg, "kitchen"); err != nil {
			d.svc.Logger().ErrorContext(ctx, "cannot follow the kitchens", "error", err)
		}
	}()
	return nil
}

// end stops following the kitchens. (hive runs it only if start ran and
// succeeded, so d.stop is set.)
func (d *dispatch) end(ctx context.Context) error {
	d.stop()
	return nil
}

// kitchens answers dispatch.kitchens from the roster.
func (d *dispatch) kitchens(ctx context.Context, _ KitchensRequest) (KitchensReply, error) {
	reply := KitchensReply{Kitchens: []Kitchen{}} // [] rather than null when none is on duty
	for _, inst := range d.roster.list() {
		reply.Kitchens = append(reply.Kitchens, Kitchen{ID: inst.ID, Endpoint: inst.Endpoint, PID: inst.PID})
	}
	return reply, nil
}
