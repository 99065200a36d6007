package events_test

import (
	"testing"

	"github.com/hive-workshop/microservices-go/hive/events"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, eventType string
		want               bool
	}{
		{"order.placed", "order.placed", true},
		{"order.placed", "order.paid", false},
		{"order.placed", "order.placed.late", false},
		{"order.*", "order.placed", true},
		{"order.*", "order", false},
		{"order.*", "order.item.added", false},
		{"*.placed", "order.placed", true},
		{"#", "order.placed", true},
		{"#", "order", true},
		{"order.#", "order", true},
		{"order.#", "order.item.added", true},
		{"order.#", "payment.done", false},
		{"#.added", "order.item.added", true},
		{"order.#.added", "order.added", true},
		{"order.#.added", "order.item.added", true},
		{"order.#.added", "order.item.removed", false},
	}
	for _, tt := range tests {
		if got := events.Match(tt.pattern, tt.eventType); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.eventType, got, tt.want)
		}
	}
}
