// Package env runs a hive service as a process, configured by the HIVE_*
// environment variables:
//
//	func main() {
//		if err := env.Run(greeter.New()); err != nil {
//			fmt.Fprintln(os.Stderr, "greeter:", err)
//			os.Exit(1)
//		}
//	}
//
// Run reads the variables (see Read), connects to the registry and the
// event bus they name, starts the service with them (see hive.Config), and
// serves until SIGINT or SIGTERM.
//
// This lives in a package of its own, not in hive, because it is the one
// place that knows every driver: ZooKeeper, RabbitMQ, the static and the
// in-memory ones. Package hive only knows the registry.Registry and
// events.Bus interfaces, so a program or a test that passes its drivers in
// (hivetest.Network, say) builds without the ZooKeeper and RabbitMQ
// clients, and a reader of hive sees the framework, not its wiring.
//
// The package is called env after what it reads; its names read with it:
// env.Run, env.Read, and env.Namespace for the variable HIVE_NAMESPACE.
package env

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
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
	Namespace = "HIVE_NAMESPACE" // names the ZooKeeper root, the exchange and the queues; "hive"
	Listen    = "HIVE_LISTEN"    // the address to listen on; "127.0.0.1:0"
	Advertise = "HIVE_ADVERTISE" // the host:port others reach it at; the listener's address
	LogLevel  = "HIVE_LOG_LEVEL" // debug, info, warn or error; "info"
	Registry  = "HIVE_REGISTRY"  // zookeeper, static or memory; "zookeeper"
	ZooKeeper = "HIVE_ZOOKEEPER" // comma-separated host:port list, a chroot after the last if any (h1:2181,h2:2181/chroot); "127.0.0.1:2181"
	Static    = "HIVE_STATIC"    // for HIVE_REGISTRY=static: "menu=127.0.0.1:8002,order=127.0.0.1:8003"
	Events    = "HIVE_EVENTS"    // rabbitmq or memory; "rabbitmq"
	AMQPURL   = "HIVE_AMQP_URL"  // "amqp://guest:guest@127.0.0.1:5672/"; a cluster's nodes: comma-separated URLs

	// For amqps:// URLs: the path of a PEM file with the CA certificate(s)
	// that signed the brokers' certificates, trusted instead of the
	// system's CAs; unset, the system's CAs. One file for all the URLs,
	// since a cluster's nodes share a CA.
	AMQPCA = "HIVE_AMQP_CA"

	// The type of the durable queues on RabbitMQ: classic or quorum
	// (replicated over a cluster's nodes; RabbitMQ 3.10 or later);
	// "classic", which a single broker needs no more than, and which the
	// queues of a namespace made by an earlier hive are. Every service of
	// a namespace must use the same type (PROTOCOL.md, Events).
	QueueType = "HIVE_QUEUE_TYPE"

	// How long ZooKeeper keeps the session of an instance it no longer
	// hears from, and so its record: a duration; "4s", the least that
	// ZooKeeper grants with its default tick of 2s. Callers stop seeing a
	// crashed instance that soon; a longer one rides out longer pauses (a
	// leader election of the ensemble takes a second or two).
	ZooKeeperSessionTimeout = "HIVE_ZOOKEEPER_SESSION_TIMEOUT"

	// How long a call the service makes may take when its context has no
	// deadline (hive.Config.CallTimeout): a duration such as 2s; "5s".
	CallTimeout = "HIVE_CALL_TIMEOUT"

	// How often a failing event handler gets an event (8 times in all),
	// how long the event waits after the first try (1s), and the longest
	// it waits between two tries (30s; every wait is twice the one before),
	// before it goes to the dead letters: by default 91 seconds of tries,
	// enough to ride out a minute's outage of something the handler needs.
	// Each service may choose its own.
	EventAttempts      = "HIVE_EVENT_ATTEMPTS"
	EventRetryDelay    = "HIVE_EVENT_RETRY_DELAY"
	EventMaxRetryDelay = "HIVE_EVENT_MAX_RETRY_DELAY"

	// For development only: "true" lets the text of a method's plain
	// error reach its caller (hive.Config.ShowErrors); "false" by default,
	// when the caller gets an incident id and the text goes to the log.
	ShowErrors = "HIVE_SHOW_ERRORS"
)

// Settings are what the environment says, before anything is connected:
// one field per HIVE_* variable (see Namespace and the rest).
type Settings struct {
	Namespace string
	Listen    string
	Advertise string
	LogLevel  slog.Level
	Registry  string
	ZooKeeper []string
	Static    string
	Events    string
	AMQPURL   string
	AMQPCA    string // a path; see AMQPCA
	QueueType string

	ZooKeeperSessionTimeout time.Duration // 0: the registry's default
	CallTimeout             time.Duration // 0: hive's default
	EventAttempts           int           // 0: the bus's default
	EventRetryDelay         time.Duration // 0: the bus's default
	EventMaxRetryDelay      time.Duration // 0: the bus's default

	ShowErrors bool
}

// Read reads the HIVE_* environment variables, with their defaults.
func Read() (Settings, error) {
	s := Settings{
		Namespace: getenv(Namespace, "hive"),
		Listen:    getenv(Listen, "127.0.0.1:0"),
		Advertise: os.Getenv(Advertise),
		Registry:  getenv(Registry, "zookeeper"),
		ZooKeeper: strings.Split(getenv(ZooKeeper, "127.0.0.1:2181"), ","),
		Static:    os.Getenv(Static),
		Events:    getenv(Events, "rabbitmq"),
		AMQPURL:   getenv(AMQPURL, "amqp://guest:guest@127.0.0.1:5672/"),
		AMQPCA:    os.Getenv(AMQPCA),
		QueueType: getenv(QueueType, rabbitmq.Classic),
	}
	if v := getenv(LogLevel, "info"); s.LogLevel.UnmarshalText([]byte(v)) != nil {
		return Settings{}, fmt.Errorf("%s=%q: want debug, info, warn or error", LogLevel, v)
	}
	if s.Events != "rabbitmq" && s.Events != "memory" {
		// ConnectBus says the same, but Run may call it long after the
		// start, at the first Emit: a typo must not wait that long.
		return Settings{}, fmt.Errorf("%s=%q: use rabbitmq or memory", Events, s.Events)
	}
	if s.QueueType != rabbitmq.Classic && s.QueueType != rabbitmq.Quorum {
		return Settings{}, fmt.Errorf("%s=%q: use %s or %s", QueueType, s.QueueType, rabbitmq.Classic, rabbitmq.Quorum)
	}
	if _, err := s.AMQPTLS(); err != nil {
		return Settings{}, err
	}
	var err error
	if s.ZooKeeperSessionTimeout, err = duration(ZooKeeperSessionTimeout); err != nil {
		return Settings{}, err
	}
	if s.CallTimeout, err = duration(CallTimeout); err != nil {
		return Settings{}, err
	}
	if v := os.Getenv(EventAttempts); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return Settings{}, fmt.Errorf("%s=%q: want a whole number of tries, at least 1", EventAttempts, v)
		}
		s.EventAttempts = n
	}
	if s.EventRetryDelay, err = duration(EventRetryDelay); err != nil {
		return Settings{}, err
	}
	if s.EventMaxRetryDelay, err = duration(EventMaxRetryDelay); err != nil {
		return Settings{}, err
	}
	if v := os.Getenv(ShowErrors); v != "" {
		if s.ShowErrors, err = strconv.ParseBool(v); err != nil {
			return Settings{}, fmt.Errorf("%s=%q: want true or false", ShowErrors, v)
		}
	}
	return s, nil
}

// duration reads the variable key as a duration longer than zero, or 0 if
// it is not set.
func duration(key string) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a duration such as 500ms or 2s", key, v)
	}
	return d, nil
}

// AMQPTLS returns the TLS settings for amqps:// URLs: nil (the system's
// CAs) unless AMQPCA names a file, which must hold a PEM certificate.
func (s Settings) AMQPTLS() (*tls.Config, error) {
	if s.AMQPCA == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(s.AMQPCA)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", AMQPCA, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s=%s: no PEM certificate in the file (want -----BEGIN CERTIFICATE-----)", AMQPCA, s.AMQPCA)
	}
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

func getenv(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// Logger returns the logger that Run gives a service: text lines on
// stderr, from LogLevel up, with the trace id of the call they belong to.
// A program that connects to something of its own before Run, such as
// step 5's ledger, logs through it too, so that its lines look alike.
func (s Settings) Logger() *slog.Logger {
	return slog.New(hive.LogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: s.LogLevel})))
}

// ConnectRegistry makes the registry that s names.
func (s Settings) ConnectRegistry(ctx context.Context, logger *slog.Logger) (registry.Registry, error) {
	switch s.Registry {
	case "zookeeper":
		return zookeeper.New(ctx, s.ZooKeeper, zookeeper.Options{Namespace: s.Namespace, Logger: logger, SessionTimeout: s.ZooKeeperSessionTimeout})
	case "static":
		return static.Parse(s.Static)
	case "memory":
		return registrymemory.New(), nil
	}
	return nil, fmt.Errorf("%s=%q: use zookeeper, static or memory", Registry, s.Registry)
}

// ConnectBus makes the event bus that s names.
func (s Settings) ConnectBus(ctx context.Context, logger *slog.Logger) (events.Bus, error) {
	switch s.Events {
	case "rabbitmq":
		tlsConfig, err := s.AMQPTLS()
		if err != nil {
			return nil, err
		}
		bus, err := rabbitmq.New(ctx, s.AMQPURL, rabbitmq.Options{Namespace: s.Namespace, Logger: logger, QueueType: s.QueueType,
			MaxAttempts: s.EventAttempts, RetryDelay: s.EventRetryDelay, MaxRetryDelay: s.EventMaxRetryDelay, TLS: tlsConfig})
		if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
			if s.AMQPCA == "" {
				return nil, fmt.Errorf("%w: set %s to the PEM file of the CA that signed the broker's certificate", err, AMQPCA)
			}
			return nil, fmt.Errorf("%w: %s=%s does not hold the CA that signed the broker's certificate", err, AMQPCA, s.AMQPCA)
		}
		return bus, err
	case "memory":
		return eventsmemory.New(eventsmemory.Options{Namespace: s.Namespace, Logger: logger,
			MaxAttempts: s.EventAttempts, RetryDelay: s.EventRetryDelay, MaxRetryDelay: s.EventMaxRetryDelay}), nil
	}
	return nil, fmt.Errorf("%s=%q: use rabbitmq or memory", Events, s.Events)
}
