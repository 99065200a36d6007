package memory_test

import (
	"testing"

	"github.com/hive-workshop/microservices-go/hive/events/eventstest"
	"github.com/hive-workshop/microservices-go/hive/events/memory"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

func TestBus(t *testing.T) {
	eventstest.Run(t, func(t *testing.T) func() eventstest.Bus {
		bus := memory.New(memory.Options{
			Namespace:   hivetest.Namespace(t),
			Logger:      eventstest.Logger(t),
			MaxAttempts: eventstest.MaxAttempts,
			RetryDelay:  eventstest.RetryDelay,
			Prefetch:    eventstest.Prefetch,
		})
		t.Cleanup(func() { bus.Close() })
		// One memory.Bus is the broker and every instance's connection.
		return func() eventstest.Bus { return bus }
	})
}
