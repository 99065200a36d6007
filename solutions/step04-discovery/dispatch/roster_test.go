package main

import (
	"slices"
	"testing"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

// Going further: a watch tells dispatch the kitchens on duty now, not
// who came and who went; changes works that out, and the roster logs it.
// make further runs it.
func TestFurther_ChangesSaysWhoJoinedAndWhoLeft(t *testing.T) {
	a, b, c := registry.Instance{ID: "kitchen-a"}, registry.Instance{ID: "kitchen-b"}, registry.Instance{ID: "kitchen-c"}
	for _, tc := range []struct {
		before, now, joined, left []registry.Instance
	}{
		{before: nil, now: []registry.Instance{a, b}, joined: []registry.Instance{a, b}},
		{before: []registry.Instance{a, b}, now: []registry.Instance{b, c}, joined: []registry.Instance{c}, left: []registry.Instance{a}},
		{before: []registry.Instance{a, b}, now: []registry.Instance{b, a}},
		{before: []registry.Instance{a, b, c}, now: nil, left: []registry.Instance{a, b, c}},
	} {
		joined, left := changes(tc.before, tc.now)
		if !slices.Equal(ids(joined), ids(tc.joined)) || !slices.Equal(ids(left), ids(tc.left)) {
			t.Errorf("Going further: from %s to %s, changes says joined %s and left %s; want joined %s and left %s.\n"+
				"In changes (dispatch/roster.go), an instance joined if its ID is in now and not in before, and left the other way round.",
				ids(tc.before), ids(tc.now), ids(joined), ids(left), ids(tc.joined), ids(tc.left))
		}
	}
}

// ids lists the IDs of instances, for a failure message.
func ids(instances []registry.Instance) []string {
	ids := []string{}
	for _, inst := range instances {
		ids = append(ids, inst.ID)
	}
	return ids
}
