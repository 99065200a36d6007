package env

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
)

// Run runs svc as a process: it reads its configuration from the HIVE_*
// environment variables, connects to the registry, starts svc, and serves
// until SIGINT or SIGTERM; then it stops svc gracefully, giving in-flight
// work up to 10 seconds. It returns an error if the environment is wrong,
// the registry or the event bus cannot be reached, or svc could not start
// or stop cleanly.
//
// Run connects to the event bus only when svc needs it: at the start if
// svc handles events, at its first Emit otherwise. So a service that only
// answers calls runs while RabbitMQ is down, and one that emits now and
// then starts anyway; its Emit fails, saying why, until RabbitMQ is back.
//
// Run also makes its logger the default logger, so that slog.InfoContext
// and friends write through it, with trace ids.
func Run(svc *hive.Service) error {
	s, err := Read()
	if err != nil {
		return err
	}
	logger := s.Logger()
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	disconnect, err := start(ctx, svc, s, logger)
	if err != nil {
		return err
	}
	defer disconnect()
	<-ctx.Done()
	stop() // a second signal now kills the process at once
	logger.Info("stopping: draining requests and events", "service", svc.Name())

	drain, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return svc.Stop(drain)
}

// start connects to the registry and starts svc with an event bus that
// connects on first use. disconnect closes both; call it after svc.Stop.
func start(ctx context.Context, svc *hive.Service, s Settings, logger *slog.Logger) (disconnect func(), err error) {
	reg, err := s.ConnectRegistry(ctx, logger)
	if err != nil {
		return nil, err
	}
	bus := &lazyBus{connect: func(ctx context.Context) (events.Bus, error) { return s.ConnectBus(ctx, logger) }}
	disconnect = func() {
		bus.Close()
		reg.Close()
	}
	cfg := hive.Config{Registry: reg, Bus: bus, Listen: s.Listen, Advertise: s.Advertise, Logger: logger, CallTimeout: s.CallTimeout, ShowErrors: s.ShowErrors}
	if err := svc.Start(ctx, cfg); err != nil {
		disconnect()
		return nil, err
	}
	return disconnect, nil
}

// lazyBus connects to the event bus the first time something publishes or
// subscribes. Start subscribes a service's event handlers, so a service
// that has some connects at once and fails to start without the bus; one
// that has none connects on its first Emit. A failed connect is not kept:
// the next Emit tries again.
type lazyBus struct {
	connect func(context.Context) (events.Bus, error)

	// mu is held while connecting, so that the first Emits at once make
	// one connection; they wait at most as long as a dial may take.
	mu     sync.Mutex
	bus    events.Bus // nil until connected
	closed bool
}

func (l *lazyBus) get(ctx context.Context) (events.Bus, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, events.ErrClosed
	}
	if l.bus == nil {
		bus, err := l.connect(ctx)
		if err != nil {
			return nil, err
		}
		l.bus = bus
	}
	return l.bus, nil
}

func (l *lazyBus) Publish(ctx context.Context, e events.Event) error {
	bus, err := l.get(ctx)
	if err != nil {
		return err
	}
	return bus.Publish(ctx, e)
}

func (l *lazyBus) PublishAfter(ctx context.Context, delay time.Duration, e events.Event) error {
	bus, err := l.get(ctx)
	if err != nil {
		return err
	}
	return bus.PublishAfter(ctx, delay, e)
}

func (l *lazyBus) Subscribe(ctx context.Context, s events.Subscription, h events.Handler) (stop func(), err error) {
	bus, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return bus.Subscribe(ctx, s, h)
}

func (l *lazyBus) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.bus == nil {
		return nil
	}
	return l.bus.Close()
}
