package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	eventsmemory "github.com/hive-workshop/microservices-go/hive/events/memory"
	registrymemory "github.com/hive-workshop/microservices-go/hive/registry/memory"
	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/chaos"
	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/kitchen"
	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/ledger"
	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/menu"
	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/order"
)

// memoryHive is the beehive inside one process: every bee is a
// *hive.Service, and they share an in-memory registry, event bus and
// ledger, as processes share ZooKeeper and RabbitMQ.
type memoryHive struct {
	cfg    hive.Config
	ledger *ledger.Memory

	mu    sync.Mutex
	slots []*slot         // one per bee, like hive node's "kitchen.1"
	back  sync.WaitGroup  // bees coming back after a kill
	done  chan struct{}   // closed by stop: no bee comes back any more
	ctx   context.Context // for starting bees
}

// slot is one place in the beehive, and the bee in it now (nil while a
// killed bee has not come back yet).
type slot struct {
	name string // "kitchen.1"
	new  func() *hive.Service
	bee  *hive.Service
}

// startHive starts 2 menus, 2 orders and 3 kitchens.
func startHive(ctx context.Context, logger *slog.Logger) (*memoryHive, error) {
	h := &memoryHive{
		cfg: hive.Config{
			Registry: registrymemory.New(),
			// A failed event comes back after 200ms instead of a second,
			// so that a short demo settles quickly.
			Bus:    eventsmemory.New(eventsmemory.Options{Namespace: "demo", RetryDelay: 200 * time.Millisecond, Logger: logger}),
			Logger: logger,
		},
		ledger: ledger.NewMemory(),
		done:   make(chan struct{}),
		ctx:    context.WithoutCancel(ctx),
	}
	kinds := []struct {
		service string
		count   int
		new     func() *hive.Service
	}{
		{"menu", 2, func() *hive.Service { return menu.New(menu.Options{}) }},
		{"order", 2, func() *hive.Service { return order.New(h.ledger) }},
		{"kitchen", 3, func() *hive.Service { return kitchen.New(h.ledger, kitchen.Options{CookTime: 50 * time.Millisecond}) }},
	}
	for _, k := range kinds {
		for i := range k.count {
			s := &slot{name: fmt.Sprintf("%s.%d", k.service, i), new: k.new}
			if err := h.fill(s); err != nil {
				h.stop()
				return nil, err
			}
			h.slots = append(h.slots, s)
		}
	}
	return h, nil
}

// fill starts a new bee in s.
func (h *memoryHive) fill(s *slot) error {
	bee := s.new()
	if err := bee.Start(h.ctx, h.cfg); err != nil {
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	h.mu.Lock()
	s.bee = bee
	h.mu.Unlock()
	return nil
}

// target returns the beehive as chaos.Run sees it.
func (h *memoryHive) target() chaos.Target {
	return chaos.Target{Registry: h.cfg.Registry, Bus: h.cfg.Bus, Ledger: h.ledger, Kill: h.kill}
}

// kill stops a random bee abruptly: Stop with a context that has already
// ended gives it no time to finish its requests, as a crash would. A new
// bee takes its place a moment later, as hive node would start one.
func (h *memoryHive) kill(ctx context.Context) (chaos.Killed, error) {
	h.mu.Lock()
	var alive []*slot
	for _, s := range h.slots {
		if s.bee != nil {
			alive = append(alive, s)
		}
	}
	if len(alive) == 0 {
		h.mu.Unlock()
		return chaos.Killed{}, errors.New("no bee is alive")
	}
	s := alive[rand.IntN(len(alive))]
	bee := s.bee
	s.bee = nil
	h.back.Add(1)
	h.mu.Unlock()

	ended, end := context.WithCancel(context.Background())
	end()
	bee.Stop(ended) // it says that it could not drain: that is the point

	go func() {
		defer h.back.Done()
		select {
		case <-time.After(300 * time.Millisecond):
		case <-h.done:
			return
		}
		if err := h.fill(s); err != nil {
			bee.Logger().Error("the bee did not come back", "slot", s.name, "error", err)
		}
	}()
	return chaos.Killed{Name: s.name, Instance: bee.ID()}, nil
}

// stop stops every bee gracefully, and the bus and registry with them.
func (h *memoryHive) stop() {
	close(h.done)
	h.back.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.slots {
		if s.bee != nil {
			s.bee.Stop(ctx)
			s.bee = nil
		}
	}
	h.cfg.Bus.Close()
	h.cfg.Registry.Close()
}
