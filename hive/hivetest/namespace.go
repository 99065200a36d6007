package hivetest

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// Namespace returns a namespace no other test uses: a ZooKeeper root, an
// exchange and queue prefix of its own. Tests that share brokers stay apart
// this way and can run in parallel.
func Namespace(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("hivetest: random namespace: %v", err)
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	return "test-" + name + "-" + hex.EncodeToString(b)
}
