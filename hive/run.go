package hive

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
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
// environment variables, connects to the registry and the event bus,
// starts svc, and serves until SIGINT or SIGTERM; then it stops svc
// gracefully, giving in-flight work up to 10 seconds. It returns an error if
// the environment is wrong, the registry or the bus cannot be reached, or
// svc could not start or stop cleanly.
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

	reg, err := env.ConnectRegistry(ctx, logger)
	if err != nil {
		return err
	}
	defer reg.Close()
	bus, err := env.ConnectBus(ctx, logger)
	if err != nil {
		return err
	}
	defer bus.Close()

	cfg := Config{Registry: reg, Bus: bus, Listen: env.Listen, Advertise: env.Advertise, Logger: logger}
	if err := svc.Start(ctx, cfg); err != nil {
		return err
	}
	<-ctx.Done()
	stop() // a second signal now kills the process at once
	logger.Info("stopping: draining requests and events", "service", svc.Name())

	drain, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return svc.Stop(drain)
}
