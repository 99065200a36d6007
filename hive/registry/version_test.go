package registry_test

import (
	"testing"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

func TestRangeMatch(t *testing.T) {
	for _, tt := range []struct {
		rng   string
		match []string
		not   []string
	}{
		{"", []string{"1.4.0", "", "dev", "py-1"}, nil},
		{"^1", []string{"1.0.0", "1.4.0", "v1.9.9", "1.4.0+build.7"}, []string{"0.9.0", "2.0.0", "", "dev", "2.0.0-rc.1"}},
		{"^1.4", []string{"1.4.0", "1.5.2"}, []string{"1.3.9", "2.0.0"}},
		{"~1.4", []string{"1.4.0", "1.4.9"}, []string{"1.5.0", "1.3.0"}},
		{"1.4.0", []string{"1.4.0", "v1.4.0"}, []string{"1.4.1"}},
		{"=1.4.0", []string{"1.4.0"}, []string{"1.4.1"}},
		{"1", []string{"1.0.0", "1.9.0"}, []string{"2.0.0"}},
		{"1.4", []string{"1.4.3"}, []string{"1.5.0"}},
		{">=1.2.0 <2.0.0", []string{"1.2.0", "1.9.9"}, []string{"1.1.9", "2.0.0"}},
		{">1.2.0", []string{"1.2.1"}, []string{"1.2.0", "1.3.0-rc.1"}},
		{"<=2.0.0", []string{"2.0.0"}, []string{"2.0.1", "2.0.0-rc.1"}},
		{">=2.0.0-rc.2", []string{"2.0.0-rc.10", "2.0.0"}, []string{"2.0.0-rc.1", "2.0.0-beta"}},
		{">=2.0.0-rc.-1", []string{"2.0.0-rc.a", "2.0.0-rc.-2"}, []string{"2.0.0-rc.1", "2.0.0-rc.-0"}}, // -1 is a word, not a number
		{"=2.0.0-rc.007", []string{"2.0.0-rc.7"}, []string{"2.0.0-rc.70"}},
		{">2.0.0-rc.99999999999999999999", []string{"2.0.0-rc.100000000000000000000"}, []string{"2.0.0-rc.99999999999999999998"}},
	} {
		r, err := registry.ParseRange(tt.rng)
		if err != nil {
			t.Errorf("ParseRange(%q): %v", tt.rng, err)
			continue
		}
		for _, v := range tt.match {
			if !r.Match(v) {
				t.Errorf("%q does not match %q, want a match", tt.rng, v)
			}
		}
		for _, v := range tt.not {
			if r.Match(v) {
				t.Errorf("%q matches %q, want none", tt.rng, v)
			}
		}
	}
}

func TestParseRangeRefusesNonsense(t *testing.T) {
	for _, s := range []string{"^x", "1.2.3.4", "^01", ">=", "latest", "1.x"} {
		if _, err := registry.ParseRange(s); err == nil {
			t.Errorf("ParseRange(%q) did not fail", s)
		}
	}
}

// A version that starts like a number must be semver; any other label is
// a record's own business.
func TestValidateChecksTheVersion(t *testing.T) {
	inst := registry.Instance{ID: "menu-1", Service: "menu", Endpoint: "127.0.0.1:8002"}
	for _, v := range []string{"", "1.4.0", "v1.4.0", "2.0.0-rc.1", "dev", "py-1"} {
		inst.Version = v
		if err := inst.Validate(); err != nil {
			t.Errorf("version %q refused: %v", v, err)
		}
	}
	for _, v := range []string{"1.4", "v2", "1.04.0", "1.4.0-", "1.4.0+", "1.4.0-rc_1"} {
		inst.Version = v
		if err := inst.Validate(); err == nil {
			t.Errorf("version %q accepted, want it refused: it looks like a version and is not semver", v)
		}
	}
}
