package hivetest

import (
	"regexp"
	"strings"
	"testing"
)

// A namespace becomes a ZooKeeper path element and the prefix of RabbitMQ
// exchange and queue names, so it keeps to lower-case letters, digits and
// dashes: no "/" (a ZooKeeper path separator), no "." or ".." (which
// ZooKeeper refuses), nothing that needs quoting anywhere.
var safeName = regexp.MustCompile(`^test-[a-z0-9-]+-[0-9a-f]{8}$`)

func TestNamespaceIsSafe(t *testing.T) {
	names := []string{
		"Plain",
		"With Spaces And UPPER case",
		"slashes/dots..and:colons",
		"ünïcödé ÄÖÜ ß 蜂",
		strings.Repeat("long", 100),
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			ns := Namespace(t)
			if !safeName.MatchString(ns) {
				t.Errorf("Namespace = %q, want it to match %s", ns, safeName)
			}
			// AMQP names may be up to 255 bytes; services append their own
			// names to the namespace, so it must stay well below that.
			if len(ns) > 60 {
				t.Errorf("Namespace = %q is %d bytes long, want at most 60", ns, len(ns))
			}
		})
	}
}

func TestNamespaceIsUnique(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		ns := Namespace(t)
		if seen[ns] {
			t.Fatalf("Namespace returned %q twice", ns)
		}
		seen[ns] = true
	}
}
