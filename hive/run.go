package hive

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
	eventsmemory "github.com/hive-workshop/microservices-go/hive/events/memory"
	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq"
	"github.com/hive-workshop/microservices-go/hive/registry"
	registrymemory "github.com/hive-workshop/microservices-go/hive/registry/memory"
	"github.com/hive-workshop/microservices-go/hive/registry/static"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

// The environment variables Run reads, and their defaults: the addresses
// docker-compose.yml publishes on localhost.
const (
	EnvNamespace = "HIVE_NAMESPACE" // names the ZooKeeper root, the exchange and the queues; "hive"
	EnvListen    = "HIVE_LISTEN"    // the address to listen on; "127.0.0.1:0"
	EnvAdvertise = "HIVE_ADVERTISE" // the host:port others reach it at; the listener's address
	EnvLogLevel  = "HIVE_LOG_LEVEL" // debug, info, warn or error; "info"
	EnvRegistry  = "HIVE_REGISTRY"  // zookeeper, static or memory; "zookeeper"
	EnvZooKeeper = "HIVE_ZOOKEEPER" // comma-separated host:port list; "127.0.0.1:2181"
	EnvStatic    = "HIVE_STATIC"    // for HIVE_REGISTRY=static: "menu=127.0.0.1:8002,order=127.0.0.1:8003"
	EnvEvents    = "HIVE_EVENTS"    // rabbitmq or memory; "rabbitmq"
	EnvAMQPURL   = "HIVE_AMQP_URL"  // "amqp://guest:guest@127.0.0.1:5672/"

	// How often a failing event handler gets an event (3 times in all),
	// and how long the event waits between tries (1s), before it goes to
	// the dead letters. More tries ride out a longer outage of something
	// the handler needs. RabbitMQ keeps the delay its retry queues were
	// first made with: a new delay needs a new namespace.
	EnvEventAttempts   = "HIVE_EVENT_ATTEMPTS"
	EnvEventRetryDelay = "HIVE_EVENT_RETRY_DELAY"
)

// Env is the configuration read from the environment, before anything is
// connected: one field per HIVE_* variable (see EnvNamespace and the rest).
type Env struct {
	Namespace string
	Listen    string
	Advertise string
	LogLevel  slog.Level
	Registry  string
	ZooKeeper []string
	Static    string
	Events    string
	AMQPURL   string

	EventAttempts   int           // 0: the bus's default
	EventRetryDelay time.Duration // 0: the bus's default
}

// ReadEnv reads the HIVE_* environment variables, with their defaults.
func ReadEnv() (Env, error) {
	env := Env{
		Namespace: getenv(EnvNamespace, "hive"),
		Listen:    getenv(EnvListen, "127.0.0.1:0"),
		Advertise: os.Getenv(EnvAdvertise),
		Registry:  getenv(EnvRegistry, "zookeeper"),
		ZooKeeper: strings.Split(getenv(EnvZooKeeper, "127.0.0.1:2181"), ","),
		Static:    os.Getenv(EnvStatic),
		Events:    getenv(EnvEvents, "rabbitmq"),
		AMQPURL:   getenv(EnvAMQPURL, "amqp://guest:guest@127.0.0.1:5672/"),
	}
	if v := getenv(EnvLogLevel, "info"); env.LogLevel.UnmarshalText([]byte(v)) != nil {
		return Env{}, fmt.Errorf("%s=%q: want debug, info, warn or error", EnvLogLevel, v)
	}
	if env.Events != "rabbitmq" && env.Events != "memory" {
		// ConnectBus says the same, but Run may call it long after the
		// start, at the first Emit: a typo must not wait that long.
		return Env{}, fmt.Errorf("%s=%q: use rabbitmq or memory", EnvEvents, env.Events)
	}
	if v := os.Getenv(EnvEventAttempts); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return Env{}, fmt.Errorf("%s=%q: want a whole number of tries, at least 1", EnvEventAttempts, v)
		}
		env.EventAttempts = n
	}
	if v := os.Getenv(EnvEventRetryDelay); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Env{}, fmt.Errorf("%s=%q: want a duration such as 500ms or 2s", EnvEventRetryDelay, v)
		}
		env.EventRetryDelay = d
	}
	return env, nil
}

func getenv(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// ConnectRegistry makes the registry that env names.
func (env Env) ConnectRegistry(ctx context.Context, logger *slog.Logger) (registry.Registry, error) {
	switch env.Registry {
	case "zookeeper":
		return zookeeper.New(ctx, env.ZooKeeper, env.Namespace, logger)
	case "static":
		return static.Parse(env.Static)
	case "memory":
		return registrymemory.New(), nil
	}
	return nil, fmt.Errorf("%s=%q: use zookeeper, static or memory", EnvRegistry, env.Registry)
}

// ConnectBus makes the event bus that env names.
func (env Env) ConnectBus(ctx context.Context, logger *slog.Logger) (events.Bus, error) {
	switch env.Events {
	case "rabbitmq":
		return rabbitmq.New(ctx, env.AMQPURL, env.Namespace, logger, rabbitmq.Options{MaxAttempts: env.EventAttempts, RetryDelay: env.EventRetryDelay})
	case "memory":
		return eventsmemory.New(env.Namespace, eventsmemory.Options{MaxAttempts: env.EventAttempts, RetryDelay: env.EventRetryDelay, Logger: logger}), nil
	}
	return nil, fmt.Errorf("%s=%q: use rabbitmq or memory", EnvEvents, env.Events)
}

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
func Run(svc *Service) error {
	env, err := ReadEnv()
	if err != nil {
		return err
	}
	logger := slog.New(LogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: env.LogLevel})))
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	disconnect, err := start(ctx, svc, env, logger)
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
func start(ctx context.Context, svc *Service, env Env, logger *slog.Logger) (disconnect func(), err error) {
	reg, err := env.ConnectRegistry(ctx, logger)
	if err != nil {
		return nil, err
	}
	bus := &lazyBus{connect: func(ctx context.Context) (events.Bus, error) { return env.ConnectBus(ctx, logger) }}
	disconnect = func() {
		bus.Close()
		reg.Close()
	}
	cfg := Config{Registry: reg, Bus: bus, Listen: env.Listen, Advertise: env.Advertise, Logger: logger}
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
