package static_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/registry"
	"github.com/hive-workshop/microservices-go/hive/registry/static"
)

func TestParse(t *testing.T) {
	ctx := t.Context()
	r, err := static.Parse("menu=127.0.0.1:8012, order=127.0.0.1:8003,menu=127.0.0.1:8002")
	require.NoError(t, err)

	menu, err := r.Instances(ctx, "menu")
	require.NoError(t, err)
	assert.Equal(t, []registry.Instance{
		{ID: "menu-127.0.0.1:8002", Service: "menu", Endpoint: "127.0.0.1:8002"},
		{ID: "menu-127.0.0.1:8012", Service: "menu", Endpoint: "127.0.0.1:8012"},
	}, menu, "a service listed twice must have both instances, sorted by ID")
	services, err := r.Services(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"menu", "order"}, services)
	nobody, err := r.Instances(ctx, "nobody")
	require.NoError(t, err)
	assert.Empty(t, nobody)
}

func TestParseEmpty(t *testing.T) {
	r, err := static.Parse("")
	require.NoError(t, err, "an empty spec means no instances, not an error")
	services, err := r.Services(t.Context())
	require.NoError(t, err)
	assert.Empty(t, services)
}

func TestParseNamesTheBadEntry(t *testing.T) {
	for spec, bad := range map[string]string{
		"menu=127.0.0.1:8002,order127.0.0.1:8003":    `"order127.0.0.1:8003"`,
		"menu=127.0.0.1:8002,":                       `entry ""`,
		"=127.0.0.1:8002":                            `"=127.0.0.1:8002"`,
		"menu=127.0.0.1":                             `"menu=127.0.0.1"`,
		"menu=127.0.0.1:8002,menu=127.0.0.1:8002":    `listed twice`,
		"menu/x=127.0.0.1:8002,order=127.0.0.1:8003": `"menu/x=127.0.0.1:8002"`,
	} {
		_, err := static.Parse(spec)
		if assert.Error(t, err, "Parse(%q) must fail", spec) {
			assert.Contains(t, err.Error(), bad, "the error for %q must name the bad part", spec)
		}
	}
}

func TestRegisterIsIgnored(t *testing.T) {
	ctx := t.Context()
	r := static.New(registry.Instance{ID: "menu-1", Service: "menu", Endpoint: "127.0.0.1:8002"})
	inst := registry.Instance{ID: "order-1", Service: "order", Endpoint: "127.0.0.1:8003"}
	require.NoError(t, r.Register(ctx, inst), "a service with static addresses still registers: that must work")
	require.NoError(t, r.Deregister(ctx, registry.Instance{ID: "menu-1", Service: "menu"}))
	services, err := r.Services(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"menu"}, services, "Register and Deregister must not change a static registry")
}

func TestWatchSendsOnceAndStaysOpen(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r := static.New(registry.Instance{ID: "menu-1", Service: "menu", Endpoint: "127.0.0.1:8002"})
	w, err := r.Watch(ctx, "menu")
	require.NoError(t, err)
	select {
	case list := <-w:
		require.Len(t, list, 1, "the first list must hold the one menu instance")
	case <-time.After(time.Second):
		t.Fatal("Watch sent no list at once")
	}
	select {
	case list, ok := <-w:
		t.Fatalf("a static watch must send one list and then stay open; got list %v, open %v", list, ok)
	default:
	}
	cancel()
	select {
	case _, ok := <-w:
		require.False(t, ok, "nothing may follow the first list")
	case <-time.After(time.Second):
		t.Fatal("the watch channel stayed open after its context ended")
	}
}

func TestClose(t *testing.T) {
	ctx := t.Context()
	r := static.New(registry.Instance{ID: "menu-1", Service: "menu", Endpoint: "127.0.0.1:8002"})
	w, err := r.Watch(ctx, "menu")
	require.NoError(t, err)
	<-w
	require.NoError(t, r.Close())
	select {
	case _, ok := <-w:
		require.False(t, ok, "nothing may follow the first list")
	case <-time.After(time.Second):
		t.Fatal("the watch channel stayed open after Close")
	}
	_, err = r.Instances(ctx, "menu")
	assert.True(t, errors.Is(err, registry.ErrClosed), "Instances after Close must return registry.ErrClosed, got %v", err)
	assert.NoError(t, r.Close(), "closing twice is not an error")
}
