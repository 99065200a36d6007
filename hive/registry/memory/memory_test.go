package memory_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/registry"
	"github.com/hive-workshop/microservices-go/hive/registry/memory"
	"github.com/hive-workshop/microservices-go/hive/registry/registrytest"
)

func TestRegistry(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) func() registry.Registry {
		// Every client is the same registry: that is how two services in
		// one process share it.
		r := memory.New()
		t.Cleanup(func() { r.Close() })
		return func() registry.Registry { return r }
	})
}

func TestSlowWatcherGetsTheLatestList(t *testing.T) {
	ctx, r := t.Context(), memory.New()
	w, err := r.Watch(ctx, "menu")
	require.NoError(t, err)
	for _, id := range []string{"menu-1", "menu-2", "menu-3"} {
		// Nobody reads w meanwhile: Register must not block on it.
		require.NoError(t, r.Register(ctx, registry.Instance{ID: id, Service: "menu", Endpoint: "127.0.0.1:8000"}))
	}
	got := <-w
	assert.Len(t, got, 3, "a watcher that did not keep up must get the latest list first, not an old one")
	select {
	case old := <-w:
		t.Fatalf("after the latest list the watch still held an older one: %v", old)
	default:
	}
}
