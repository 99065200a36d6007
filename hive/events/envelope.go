package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Decode reads the envelope of a message body, as a consumer must
// (PROTOCOL.md, "Consuming, and failing correctly"): a JSON object with
// every required field of the right type, a non-empty id and type, and a
// body, which may be null but must be there. Anything else is not an
// event, and Decode says what is missing. A trace_id that is not a valid
// trace id is no reason to refuse an event: the handler starts a new
// trace instead.
func Decode(data []byte) (Event, error) {
	var raw struct {
		ID      *string         `json:"id"`
		Type    *string         `json:"type"`
		Source  *string         `json:"source"`
		TraceID *string         `json:"trace_id"`
		Time    *time.Time      `json:"time"`
		Body    json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Event{}, err
	}
	var missing []string
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"id", raw.ID != nil && *raw.ID != ""},
		{"type", raw.Type != nil && *raw.Type != ""},
		{"source", raw.Source != nil},
		{"time", raw.Time != nil},
		{"body", raw.Body != nil},
	} {
		if !f.ok {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Event{}, fmt.Errorf("missing or empty: %s", strings.Join(missing, ", "))
	}
	e := Event{ID: *raw.ID, Type: *raw.Type, Source: *raw.Source, Time: *raw.Time, Body: raw.Body}
	if raw.TraceID != nil {
		e.TraceID = *raw.TraceID
	}
	return e, nil
}

// ErrWrongType is the reason a consumer gives for a message whose
// envelope's type is not the type it was routed by: the routing key it
// was published with, or, on a retry, one the subscription's pattern
// matches. Whatever took the type for its own would handle an event it
// never subscribed to.
var ErrWrongType = errors.New("the envelope's type is not the type it was routed by")
