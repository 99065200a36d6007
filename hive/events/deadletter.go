package events

import "context"

// A DeadLetter is a message a bus gave up on and moved to a dead-letter
// queue: its handler failed every time it was tried, or it was not an event
// at all. Nothing retries it any more; a person has to look at it.
type DeadLetter struct {
	// Event is the event, or the zero Event if the message could not be
	// decoded as one.
	Event Event

	// Reason says why the bus gave up, e.g. "failed 3 times: out of stock".
	Reason string

	// Message is the message as the bus got it, for one that is not an
	// event: the bytes of its body.
	Message []byte
}

// DeadLetterLister is a Bus that can show the dead letters of a
// subscription, oldest first, without removing them. Not every bus can, so
// it is a capability of its own: tests and tools check for it with a type
// assertion. Both of hive's buses have it.
type DeadLetterLister interface {
	DeadLetters(ctx context.Context, s Subscription) ([]DeadLetter, error)
}

// DeadLetterKeeper is a Bus that can also act on the dead letters of a
// subscription, once a person has looked at them: the cause is fixed, so
// replay them; or they were junk, so purge them. The hive CLI's `hive dead`
// uses it. Both of hive's buses have it.
type DeadLetterKeeper interface {
	DeadLetterLister

	// Replay moves the dead letters of s with the given event IDs (every
	// one, if ids is empty) back into the subscription's queue, as new:
	// their count of attempts starts again, and their event, trace id
	// included, is the same. It returns how many it moved.
	Replay(ctx context.Context, s Subscription, ids ...string) (int, error)

	// Purge deletes the dead letters of s with the given event IDs (every
	// one, if ids is empty), and returns how many it deleted.
	Purge(ctx context.Context, s Subscription, ids ...string) (int, error)
}
