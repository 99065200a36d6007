package hive_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
	eventsmemory "github.com/hive-workshop/microservices-go/hive/events/memory"
	registrymemory "github.com/hive-workshop/microservices-go/hive/registry/memory"
)

// ticket is the body type of the events in FuzzEventBody: a few of the
// shapes JSON can take.
type ticket struct {
	OrderID string         `json:"order_id"`
	Table   uint8          `json:"table"`
	Dishes  []string       `json:"dishes"`
	Tip     *float64       `json:"tip"`
	Notes   map[string]any `json:"notes"`
}

// FuzzEventBody hands an event with any body to a typed handler, through
// the in-memory bus. A body that decodes into the handler's type reaches
// the handler as that value; any other goes to the dead letters, with a
// reason that says the body is not valid JSON for the type. Nothing
// panics, and every event ends one way or the other.
//
// The seeds are in testdata/fuzz/FuzzEventBody.
func FuzzEventBody(f *testing.F) {
	quiet := slog.New(slog.DiscardHandler)
	// One attempt: a body that cannot be decoded never will be, so there is
	// no point in waiting for retries here.
	bus := eventsmemory.New(eventsmemory.Options{Namespace: "fuzz", MaxAttempts: 1, Logger: quiet})
	f.Cleanup(func() { bus.Close() })

	handled := make(chan ticket, 1)
	kitchen := hive.New("kitchen")
	hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[ticket]) error {
		handled <- e.Body
		return nil
	})
	if err := kitchen.Start(f.Context(), hive.Config{Registry: registrymemory.New(), Bus: bus, Logger: quiet}); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { kitchen.Stop(context.Background()) })
	sub := kitchen.Subscriptions()[0]

	var sent, buried int // events published, and dead letters seen
	f.Fuzz(func(t *testing.T, body []byte) {
		sent++
		id := strconv.Itoa(sent)
		e := events.Event{ID: id, Type: "order.placed", Source: "fuzz", Time: time.Now(), Body: body}
		if err := bus.Publish(t.Context(), e); err != nil {
			t.Fatalf("publish: %v", err)
		}

		var want ticket
		valid := json.Unmarshal(body, &want) == nil
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case got := <-handled:
				if !valid {
					t.Fatalf("%q is no ticket, but the handler got %+v", body, got)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("the handler got %+v, want %+v", got, want)
				}
				return
			case <-tick.C:
				letters, err := bus.DeadLetters(t.Context(), sub)
				if err != nil {
					t.Fatal(err)
				}
				if len(letters) == buried {
					continue // nothing new yet
				}
				buried = len(letters)
				last := letters[buried-1]
				switch {
				case last.Event.ID != id:
					t.Fatalf("the newest dead letter is event %s, want %s", last.Event.ID, id)
				case valid:
					t.Fatalf("%q is a valid ticket, but it went to the dead letters: %s", body, last.Reason)
				case !strings.Contains(last.Reason, "the body is not valid JSON for hive_test.ticket"):
					t.Fatalf("the dead letter's reason is %q, want one that says the body is not valid JSON for hive_test.ticket", last.Reason)
				}
				return
			case <-timeout:
				t.Fatalf("%q was neither handled nor dead-lettered within 10s", body)
			}
		}
	})
}
