// Package registrytest checks that a registry.Registry keeps the promises of
// the interface. Every implementation runs the same suite in its tests:
//
//	func TestRegistry(t *testing.T) {
//		registrytest.Run(t, func(t *testing.T) func() registry.Registry { ... })
//	}
package registrytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

// A Backend prepares a fresh, empty registry for the test t and returns
// connect, which opens a client of it. The clients of one connect share
// their data, as two processes share a ZooKeeper namespace, so one client can
// watch what another registers. The backend closes its clients when t ends.
type Backend func(t *testing.T) (connect func() registry.Registry)

// How long a watch may take to show a change. atOnce is shorter than the
// ZooKeeper session timeout (4s), so an instance that only disappears when
// its session expires is too late.
const (
	soon   = 5 * time.Second
	atOnce = 2 * time.Second
)

// Run runs the suite, each check in a parallel subtest with a backend of its own.
func Run(t *testing.T, backend Backend) {
	tests := []struct {
		name string
		test func(t *testing.T, connect func() registry.Registry)
	}{
		{"RegisterThenList", registerThenList},
		{"RejectBadInstances", rejectBadInstances},
		{"EveryFieldSurvives", everyFieldSurvives},
		{"DeregisterDisappearsAtOnce", deregisterDisappearsAtOnce},
		{"WatchBeforeFirstInstance", watchBeforeFirstInstance},
		{"WatchSeesComeAndGoInOrder", watchSeesComeAndGoInOrder},
		{"WatchEndsWithContext", watchEndsWithContext},
		{"CloseEndsEverything", closeEndsEverything},
		{"ConcurrentRegisterAndDeregister", concurrentRegisterAndDeregister},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, backend(t))
		})
	}
}

func registerThenList(t *testing.T, connect func() registry.Registry) {
	ctx, r := t.Context(), connect()
	for _, inst := range []registry.Instance{instance("menu", "menu-2"), instance("order", "order-1"), instance("menu", "menu-1")} {
		require.NoError(t, r.Register(ctx, inst), "register %s", inst.ID)
	}

	menu, err := r.Instances(ctx, "menu")
	require.NoError(t, err)
	assert.Equal(t, []string{"menu-1", "menu-2"}, ids(menu), "Instances must list the service's instances, sorted by ID")
	services, err := r.Services(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"menu", "order"}, services, "Services must list every service with an instance, sorted")
	nobody, err := r.Instances(ctx, "nobody")
	require.NoError(t, err, "a service without instances is not an error")
	assert.Empty(t, nobody, "a service without instances must have an empty list")

	again := instance("menu", "menu-1")
	again.Version = "v2.0.0"
	require.NoError(t, r.Register(ctx, again))
	menu, err = r.Instances(ctx, "menu")
	require.NoError(t, err)
	require.Len(t, menu, 2, "registering an ID again must replace its record, not add one")
	assert.Equal(t, "v2.0.0", menu[0].Version, "registering an ID again must replace its record")
}

func rejectBadInstances(t *testing.T, connect func() registry.Registry) {
	ctx, r := t.Context(), connect()
	bad := map[string]registry.Instance{
		"no service":          {ID: "x-1", Endpoint: "127.0.0.1:8000"},
		"no ID":               {Service: "x", Endpoint: "127.0.0.1:8000"},
		"a / in the ID":       {Service: "x", ID: "x/1", Endpoint: "127.0.0.1:8000"},
		"a / in the service":  {Service: "x/y", ID: "x-1", Endpoint: "127.0.0.1:8000"},
		"no port in endpoint": {Service: "x", ID: "x-1", Endpoint: "127.0.0.1"},
		"a path in endpoint":  {Service: "x", ID: "x-1", Endpoint: "127.0.0.1:8000/x"},
		"a scheme":            {Service: "x", ID: "x-1", Endpoint: "http://127.0.0.1:8000"},
		"over 64 KiB of JSON": {Service: "x", ID: "x-1", Endpoint: "127.0.0.1:8000", Version: strings.Repeat("v", registry.MaxRecordBytes)},
	}
	for what, inst := range bad {
		assert.Error(t, r.Register(ctx, inst), "an instance with %s must be refused", what)
	}
	services, err := r.Services(ctx)
	require.NoError(t, err)
	assert.Empty(t, services, "a refused instance must not be registered")
}

func everyFieldSurvives(t *testing.T, connect func() registry.Registry) {
	ctx, a, b := t.Context(), connect(), connect()
	inst := registry.Instance{
		ID:         "menu-7f3a",
		Service:    "menu",
		Endpoint:   "10.0.0.7:8002",
		Version:    "v1.2.3",
		Host:       "bee-7",
		PID:        4242,
		Started:    time.Date(2025, 5, 17, 18, 30, 1, 123456789, time.UTC),
		Idempotent: []string{"GetMenu", "ListDishes"},
	}
	require.NoError(t, a.Register(ctx, inst))
	w, err := b.Watch(ctx, "menu")
	require.NoError(t, err)
	got := Expect(t, w, soon, "menu-7f3a")
	assert.Equal(t, inst, got[0], "the instance another client reads must equal the one registered, field by field")
}

func deregisterDisappearsAtOnce(t *testing.T, connect func() registry.Registry) {
	ctx, a, b := t.Context(), connect(), connect()
	inst := instance("menu", "menu-1")
	require.NoError(t, a.Register(ctx, inst))
	w, err := b.Watch(ctx, "menu")
	require.NoError(t, err)
	Expect(t, w, soon, "menu-1")

	require.NoError(t, a.Deregister(ctx, inst))
	Expect(t, w, atOnce)
	assert.NoError(t, a.Deregister(ctx, inst), "deregistering an instance that is gone is not an error")
	services, err := a.Services(ctx)
	require.NoError(t, err)
	assert.Empty(t, services, "a service whose last instance is gone must leave Services")
}

func watchBeforeFirstInstance(t *testing.T, connect func() registry.Registry) {
	ctx, a, b := t.Context(), connect(), connect()
	w, err := b.Watch(ctx, "menu")
	require.NoError(t, err)
	Expect(t, w, soon)
	require.NoError(t, a.Register(ctx, instance("menu", "menu-1")))
	Expect(t, w, soon, "menu-1")
}

func watchSeesComeAndGoInOrder(t *testing.T, connect func() registry.Registry) {
	ctx, a, b := t.Context(), connect(), connect()
	w, err := b.Watch(ctx, "menu")
	require.NoError(t, err)
	m1, m2, m3 := instance("menu", "menu-1"), instance("menu", "menu-2"), instance("menu", "menu-3")
	steps := []struct {
		change string
		do     func(context.Context, registry.Instance) error
		inst   registry.Instance
		want   []string
	}{
		{"register menu-1", a.Register, m1, []string{"menu-1"}},
		{"register menu-2", a.Register, m2, []string{"menu-1", "menu-2"}},
		{"deregister menu-1", a.Deregister, m1, []string{"menu-2"}},
		{"register menu-3", a.Register, m3, []string{"menu-2", "menu-3"}},
		{"deregister menu-2", a.Deregister, m2, []string{"menu-3"}},
		{"deregister menu-3", a.Deregister, m3, nil},
	}
	before := Expect(t, w, soon)
	for _, step := range steps {
		require.NoError(t, step.do(ctx, step.inst), step.change)
		was := ids(before)
		before = await(t, w, soon, step.want, func(got []string) {
			if !slices.Equal(got, was) && !slices.Equal(got, step.want) {
				t.Fatalf("after %s the watch showed %v: only %v (before) or %v (after) may appear", step.change, got, was, step.want)
			}
		})
	}
}

func watchEndsWithContext(t *testing.T, connect func() registry.Registry) {
	ctx, cancel := context.WithCancel(t.Context())
	w, err := connect().Watch(ctx, "menu")
	require.NoError(t, err)
	Expect(t, w, soon)
	cancel()
	closed(t, w, "the watch channel must close when the watch's context ends")
}

func closeEndsEverything(t *testing.T, connect func() registry.Registry) {
	ctx, r := t.Context(), connect()
	w, err := r.Watch(ctx, "menu")
	require.NoError(t, err)
	Expect(t, w, soon)

	require.NoError(t, r.Close())
	closed(t, w, "the watch channel must close when the registry closes")
	err = r.Register(ctx, instance("menu", "menu-1"))
	assert.True(t, errors.Is(err, registry.ErrClosed), "Register after Close must return registry.ErrClosed, got %v", err)
	assert.NoError(t, r.Close(), "closing twice is not an error")
}

func concurrentRegisterAndDeregister(t *testing.T, connect func() registry.Registry) {
	ctx, clients := t.Context(), []registry.Registry{connect(), connect()}
	w, err := connect().Watch(ctx, "menu")
	require.NoError(t, err)

	var wg sync.WaitGroup
	var stay []string
	for i := range 20 {
		inst := instance("menu", fmt.Sprintf("menu-%02d", i))
		r := clients[i%len(clients)]
		leaves := i%3 == 0
		if !leaves {
			stay = append(stay, inst.ID)
		}
		wg.Go(func() {
			assert.NoError(t, r.Register(ctx, inst), "register %s", inst.ID)
			_, err := r.Instances(ctx, "menu")
			assert.NoError(t, err, "list while others register")
			if leaves {
				assert.NoError(t, r.Deregister(ctx, inst), "deregister %s", inst.ID)
			}
		})
	}
	wg.Wait()
	Expect(t, w, soon, stay...)
	got, err := clients[0].Instances(ctx, "menu")
	require.NoError(t, err)
	assert.Equal(t, stay, ids(got), "after concurrent registers and deregisters, exactly the instances that stayed must be listed")
}

// Expect reads lists from the watch w until one holds exactly the instances
// want, by ID, and returns it. It fails t if that takes longer than within.
func Expect(t *testing.T, w <-chan []registry.Instance, within time.Duration, want ...string) []registry.Instance {
	t.Helper()
	return await(t, w, within, want, func([]string) {})
}

// await is Expect with a check of every list the watch shows on the way.
func await(t *testing.T, w <-chan []registry.Instance, within time.Duration, want []string, check func(got []string)) []registry.Instance {
	t.Helper()
	deadline := time.After(within)
	var last []string
	for {
		select {
		case list, ok := <-w:
			if !ok {
				t.Fatalf("the watch channel closed while waiting for the instances %v", want)
			}
			last = ids(list)
			check(last)
			if slices.Equal(last, want) {
				return list
			}
		case <-deadline:
			t.Fatalf("the watch did not show the instances %v within %v; the last list it sent was %v", want, within, last)
		}
	}
}

// closed fails t unless the watch w closes soon.
func closed(t *testing.T, w <-chan []registry.Instance, msg string) {
	t.Helper()
	deadline := time.After(soon)
	for {
		select {
		case _, ok := <-w:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("%s, but it is still open after %v", msg, soon)
		}
	}
}

func instance(service, id string) registry.Instance {
	return registry.Instance{ID: id, Service: service, Endpoint: "127.0.0.1:8000", Started: time.Date(2025, 5, 17, 18, 0, 0, 0, time.UTC)}
}

func ids(list []registry.Instance) []string {
	var ids []string
	for _, inst := range list {
		ids = append(ids, inst.ID)
	}
	return ids
}
