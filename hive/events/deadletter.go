package events

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
