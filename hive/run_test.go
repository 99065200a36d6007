package hive_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
)

func TestReadEnvDefaults(t *testing.T) {
	for _, key := range []string{"HIVE_NAMESPACE", "HIVE_LISTEN", "HIVE_REGISTRY", "HIVE_ZOOKEEPER", "HIVE_EVENTS", "HIVE_AMQP_URL", "HIVE_LOG_LEVEL", "HIVE_EVENT_ATTEMPTS", "HIVE_EVENT_RETRY_DELAY"} {
		t.Setenv(key, "")
	}
	env, err := hive.ReadEnv()
	require.NoError(t, err)
	assert.Equal(t, hive.Env{
		Namespace: "hive",
		Listen:    "127.0.0.1:0",
		LogLevel:  slog.LevelInfo,
		Registry:  "zookeeper",
		ZooKeeper: []string{"127.0.0.1:2181"},
		Events:    "rabbitmq",
		AMQPURL:   "amqp://guest:guest@127.0.0.1:5672/",
	}, env, "the defaults are the addresses docker-compose.yml publishes")
}

func TestReadEnvEventRetries(t *testing.T) {
	t.Setenv("HIVE_EVENT_ATTEMPTS", "6")
	t.Setenv("HIVE_EVENT_RETRY_DELAY", "2s")
	env, err := hive.ReadEnv()
	require.NoError(t, err)
	assert.Equal(t, 6, env.EventAttempts)
	assert.Equal(t, 2*time.Second, env.EventRetryDelay)

	t.Setenv("HIVE_EVENT_ATTEMPTS", "zero")
	_, err = hive.ReadEnv()
	assert.ErrorContains(t, err, `HIVE_EVENT_ATTEMPTS="zero": want a whole number of tries, at least 1`)
}

func TestReadEnvRefusesABadLogLevel(t *testing.T) {
	t.Setenv("HIVE_LOG_LEVEL", "loud")
	_, err := hive.ReadEnv()
	assert.ErrorContains(t, err, "HIVE_LOG_LEVEL")
}
