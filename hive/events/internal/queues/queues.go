// Package queues holds what the event buses share about their queues: how
// a subscription's queue is named, which subscriptions make sense, and how
// a handler is called so that a panic cannot take the process down.
package queues

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/internal/clip"
)

// Name returns the name of the queue s reads from. All instances of a
// service share one queue per handler name; a broadcast subscription has a
// queue per instance:
//
//	<namespace>.<service>.<name>
//	<namespace>.<service>.<name>.<instance>
func Name(namespace string, s events.Subscription) string {
	name := namespace + "." + s.Service + "." + s.Name
	if s.Broadcast {
		name += "." + s.Instance
	}
	return name
}

// Check returns an error that says what s lacks, or nil if s is complete.
func Check(s events.Subscription) error {
	switch {
	case s.Service == "":
		return errors.New("subscription has no Service")
	case s.Name == "":
		return errors.New("subscription has no Name")
	case s.Pattern == "":
		return errors.New("subscription has no Pattern")
	case s.Broadcast && s.Instance == "":
		return errors.New("broadcast subscription has no Instance")
	case s.InOrder && s.Broadcast:
		return errors.New("broadcast subscription is InOrder: every instance of a broadcast gets its own queue, in order already")
	case s.Tap && !s.Broadcast:
		return errors.New("tap subscription is not Broadcast: a tap gets a queue of its own")
	}
	return nil
}

// The retry schedule both buses share, by default: a failing event is
// tried DefaultAttempts times in all, waiting DefaultRetryDelay after the
// first failure, twice as long after each one after that, but never more
// than DefaultMaxRetryDelay. That is 1s, 2s, 4s, 8s, 16s, 30s and 30s: 91
// seconds between the first try and the last, enough to ride out a
// dependency that is away for a minute (ZooKeeper restarting, a service
// being redeployed) without a person having to replay dead letters.
const (
	DefaultAttempts      = 8
	DefaultRetryDelay    = time.Second
	DefaultMaxRetryDelay = 30 * time.Second
)

// RetryDelay returns how long an event waits after its attempt-th try
// failed: first, doubled for every try after the first, capped at most.
func RetryDelay(attempt int, first, most time.Duration) time.Duration {
	d := first
	for range attempt - 1 {
		if d >= most/2 {
			return most
		}
		d *= 2
	}
	return min(d, most)
}

// RetryDelays returns every wait of the schedule, after try 1 to try
// attempts-1, without repeats: the delay tiers a bus needs.
func RetryDelays(attempts int, first, most time.Duration) []time.Duration {
	var tiers []time.Duration
	for a := 1; a < attempts; a++ {
		if d := RetryDelay(a, first, most); !slices.Contains(tiers, d) {
			tiers = append(tiers, d)
		}
	}
	return tiers
}

// Call calls h with e. A panic in h becomes an error, so the bus treats it
// like any other failure (retry, then dead letter) instead of crashing;
// its stack trace goes to log, as nobody else will ever see it.
//
// A hive service's handlers never panic this far: hive recovers them one
// step earlier, to log the panic under an incident id (see hive's
// pipeline.go). This recover is the bus's own promise, for handlers given
// to a bus directly, such as the hive CLI's tail.
func Call(ctx context.Context, log *slog.Logger, h events.Handler, e events.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked := clip.Text(fmt.Sprint(p), clip.ForLog) // a panic value may hold the whole event
			log.Error("events: handler panicked", "event", e.Type, "id", e.ID, "panic", panicked, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %s", panicked)
		}
	}()
	return h(ctx, e)
}

// Reason says why an event went to the dead letters, after attempt tries
// that ended in err. It is cut to a length fit for a log line.
func Reason(attempt int, err error) string {
	if events.IsPermanent(err) {
		return clip.Text(fmt.Sprintf("cannot be handled: %v", err), clip.ForLog)
	}
	return clip.Text(fmt.Sprintf("failed %d times: %v", attempt, err), clip.ForLog)
}
