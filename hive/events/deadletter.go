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
}

// DeadLetterLister is a Bus that can show the dead letters of a
// subscription, oldest first, without removing them. Not every bus can, so
// it is a capability of its own: tests and tools check for it with a type
// assertion. Both of hive's buses have it.
type DeadLetterLister interface {
	DeadLetters(ctx context.Context, s Subscription) ([]DeadLetter, error)
}
