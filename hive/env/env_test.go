package env_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/env"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

func TestReadDefaults(t *testing.T) {
	for _, key := range []string{"HIVE_NAMESPACE", "HIVE_LISTEN", "HIVE_REGISTRY", "HIVE_ZOOKEEPER", "HIVE_EVENTS", "HIVE_AMQP_URL", "HIVE_AMQP_CA", "HIVE_LOG_LEVEL", "HIVE_CALL_TIMEOUT", "HIVE_EVENT_ATTEMPTS", "HIVE_EVENT_RETRY_DELAY", "HIVE_SHOW_ERRORS", "HIVE_QUEUE_TYPE", "HIVE_ZOOKEEPER_SESSION_TIMEOUT"} {
		t.Setenv(key, "")
	}
	s, err := env.Read()
	require.NoError(t, err)
	assert.Equal(t, env.Settings{
		Namespace: "hive",
		Listen:    "127.0.0.1:0",
		LogLevel:  slog.LevelInfo,
		Registry:  "zookeeper",
		ZooKeeper: []string{"127.0.0.1:2181"},
		Events:    "rabbitmq",
		AMQPURL:   "amqp://guest:guest@127.0.0.1:5672/",
		QueueType: "classic",
	}, s, "the defaults are the addresses docker-compose.yml publishes")
}

func TestReadEventRetries(t *testing.T) {
	t.Setenv("HIVE_EVENT_ATTEMPTS", "6")
	t.Setenv("HIVE_EVENT_RETRY_DELAY", "2s")
	t.Setenv("HIVE_EVENT_MAX_RETRY_DELAY", "1m")
	s, err := env.Read()
	require.NoError(t, err)
	assert.Equal(t, 6, s.EventAttempts)
	assert.Equal(t, 2*time.Second, s.EventRetryDelay)
	assert.Equal(t, time.Minute, s.EventMaxRetryDelay)

	t.Setenv("HIVE_EVENT_ATTEMPTS", "zero")
	_, err = env.Read()
	assert.ErrorContains(t, err, `HIVE_EVENT_ATTEMPTS="zero": want a whole number of tries, at least 1`)
}

func TestReadZooKeeper(t *testing.T) {
	t.Setenv("HIVE_ZOOKEEPER", "10.0.0.1:2181,10.0.0.2:2181/apps/hive")
	t.Setenv("HIVE_ZOOKEEPER_SESSION_TIMEOUT", "10s")
	s, err := env.Read()
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.1:2181", "10.0.0.2:2181/apps/hive"}, s.ZooKeeper, "the chroot stays with the last server, as the zookeeper package takes it")
	assert.Equal(t, 10*time.Second, s.ZooKeeperSessionTimeout)

	t.Setenv("HIVE_ZOOKEEPER_SESSION_TIMEOUT", "long")
	_, err = env.Read()
	assert.ErrorContains(t, err, `HIVE_ZOOKEEPER_SESSION_TIMEOUT="long": want a duration`)
}

func TestReadQueueType(t *testing.T) {
	t.Setenv("HIVE_QUEUE_TYPE", "quorum")
	s, err := env.Read()
	require.NoError(t, err)
	assert.Equal(t, "quorum", s.QueueType)

	t.Setenv("HIVE_QUEUE_TYPE", "mirrored")
	_, err = env.Read()
	assert.ErrorContains(t, err, `HIVE_QUEUE_TYPE="mirrored": use classic or quorum`)
}

func TestReadCallTimeout(t *testing.T) {
	t.Setenv("HIVE_CALL_TIMEOUT", "1.5s")
	s, err := env.Read()
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Millisecond, s.CallTimeout)

	for _, bad := range []string{"abc", "-1s", "0", "5"} {
		t.Setenv("HIVE_CALL_TIMEOUT", bad)
		_, err = env.Read()
		assert.ErrorContains(t, err, `HIVE_CALL_TIMEOUT="`+bad+`": want a duration such as 500ms or 2s`)
	}
}

func TestReadShowErrors(t *testing.T) {
	t.Setenv("HIVE_SHOW_ERRORS", "true")
	s, err := env.Read()
	require.NoError(t, err)
	assert.True(t, s.ShowErrors)

	t.Setenv("HIVE_SHOW_ERRORS", "yes please")
	_, err = env.Read()
	assert.ErrorContains(t, err, `HIVE_SHOW_ERRORS="yes please": want true or false`)
}

// HIVE_SHOW_ERRORS reaches the service: a plain error's text reaches the
// caller.
func TestShowErrorsReachesTheService(t *testing.T) {
	svc := hive.New("leaky")
	hive.Handle(svc, "query", func(ctx context.Context, _ struct{}) (struct{}, error) {
		return struct{}{}, errors.New("password=hunter2")
	})
	s := env.Settings{Namespace: hivetest.Namespace(t), Listen: "127.0.0.1:0", Registry: "memory", Events: "memory", ShowErrors: true}
	disconnect, err := env.Start(t.Context(), svc, s, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, svc.Stop(context.Background()))
		disconnect()
	})
	err = svc.Call(context.Background(), "leaky.query", nil, nil)
	assert.ErrorIs(t, err, hive.ErrInternal)
	assert.ErrorContains(t, err, "password=hunter2")
}

// HIVE_CALL_TIMEOUT reaches the calls the service makes: a call without a
// deadline of its own brings the callee that much time.
func TestCallTimeoutReachesTheServicesCalls(t *testing.T) {
	svc := hive.New("clock")
	hive.Handle(svc, "left", func(ctx context.Context, _ struct{}) (time.Duration, error) {
		deadline, _ := ctx.Deadline()
		return time.Until(deadline), nil
	})
	s := env.Settings{Namespace: hivetest.Namespace(t), Listen: "127.0.0.1:0", Registry: "memory", Events: "memory", CallTimeout: 42 * time.Second}
	disconnect, err := env.Start(t.Context(), svc, s, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, svc.Stop(context.Background()))
		disconnect()
	})

	var left time.Duration
	require.NoError(t, svc.Call(context.Background(), "clock.left", nil, &left))
	assert.LessOrEqual(t, left, 42*time.Second)
	assert.Greater(t, left, hive.DefaultCallTimeout, "the call must bring HIVE_CALL_TIMEOUT, not the default")
}

func TestReadRefusesABadLogLevel(t *testing.T) {
	t.Setenv("HIVE_LOG_LEVEL", "loud")
	_, err := env.Read()
	assert.ErrorContains(t, err, "HIVE_LOG_LEVEL")
}

func TestReadRefusesAnUnknownEventBus(t *testing.T) {
	t.Setenv("HIVE_EVENTS", "kafka")
	_, err := env.Read()
	assert.ErrorContains(t, err, `HIVE_EVENTS="kafka": use rabbitmq or memory`)
}

// runWithoutRabbitMQ starts svc as Run does, with HIVE_AMQP_URL pointing at
// a port where nothing listens. It returns that host:port.
func runWithoutRabbitMQ(t *testing.T, svc *hive.Service) (addr string, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr = ln.Addr().String()
	ln.Close()

	s := env.Settings{Namespace: hivetest.Namespace(t), Listen: "127.0.0.1:0", Registry: "memory", Events: "rabbitmq", AMQPURL: "amqp://guest:guest@" + addr + "/"}
	disconnect, err := env.Start(t.Context(), svc, s, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Cleanup(func() {
			assert.NoError(t, svc.Stop(context.Background()))
			disconnect()
		})
	}
	return addr, err
}

// Item 7 of issue 9: a service that handles no events starts without
// RabbitMQ and answers calls; Emit says which broker is missing.
func TestRunStartsWithoutRabbitMQWhenTheServiceHandlesNoEvents(t *testing.T) {
	svc := hive.New("echo")
	hive.Handle(svc, "say", func(ctx context.Context, req string) (string, error) { return req, nil })
	addr, err := runWithoutRabbitMQ(t, svc)
	require.NoError(t, err, "a service without event handlers must start while RabbitMQ is down")

	var got string
	require.NoError(t, svc.Call(t.Context(), "echo.say", "hello", &got))
	assert.Equal(t, "hello", got)

	err = svc.Emit(t.Context(), "echo.said", "hello")
	require.Error(t, err)
	assert.ErrorContains(t, err, "rabbitmq: cannot connect to "+addr)
	assert.ErrorContains(t, err, "make up", "the error should say how to start RabbitMQ")
}

func TestRunNeedsRabbitMQWhenTheServiceHandlesEvents(t *testing.T) {
	svc := hive.New("listener")
	hive.On(svc, "echo.said", func(ctx context.Context, e hive.Event[string]) error { return nil })
	addr, err := runWithoutRabbitMQ(t, svc)
	require.Error(t, err, "a service with event handlers must not start without its events")
	assert.ErrorContains(t, err, "rabbitmq: cannot connect to "+addr)
	assert.ErrorContains(t, err, "make up", "the error should say how to start RabbitMQ")
}

// Run connects to RabbitMQ on the first Emit; Emits at once share one
// connection, and every event arrives.
func TestRunConnectsToRabbitMQOnTheFirstEmit(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	const emits = 10
	heard := make(chan string, emits)
	stop, err := n.Bus.Subscribe(t.Context(), events.Subscription{Service: "test", Name: "echo.said", Pattern: "echo.said"},
		func(ctx context.Context, e events.Event) error {
			heard <- e.ID
			return nil
		})
	require.NoError(t, err)
	defer stop()

	svc := hive.New("echo")
	s := env.Settings{Namespace: n.Namespace, Listen: "127.0.0.1:0", Registry: "memory", Events: "rabbitmq", AMQPURL: brokertest.RabbitMQ(t)}
	disconnect, err := env.Start(t.Context(), svc, s, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer disconnect()
	defer svc.Stop(context.Background())

	var wg sync.WaitGroup
	for range emits {
		wg.Go(func() { assert.NoError(t, svc.Emit(t.Context(), "echo.said", "hello")) })
	}
	wg.Wait()
	ids := make(map[string]bool)
	timeout := time.After(30 * time.Second)
	for len(ids) < emits {
		select {
		case id := <-heard:
			ids[id] = true
		case <-timeout:
			t.Fatalf("heard %d of %d events after 30s", len(ids), emits)
		}
	}
}
