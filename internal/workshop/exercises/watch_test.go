package main

import (
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGoFileStampsSeeASave checks what make watch takes for a change: a
// .go file saved, added or removed, anywhere below the step; and not a
// file of another kind. The modification times are set by hand, so that
// the test does not depend on the file system's clock resolution.
func TestGoFileStampsSeeASave(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "order", "order.go")
	require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
	require.NoError(t, os.WriteFile(file, []byte("package order\n"), 0o644))
	then := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	require.NoError(t, os.Chtimes(file, then, then))

	stamp := func() stamps {
		t.Helper()
		s, err := goFileStamps(dir)
		require.NoError(t, err)
		return s
	}
	before := stamp()
	require.Len(t, before, 1)
	assert.True(t, maps.Equal(before, stamp()), "nothing changed, but the stamps did")

	// Saved with the same size: only the time tells.
	require.NoError(t, os.WriteFile(file, []byte("package ORDER\n"), 0o644))
	require.NoError(t, os.Chtimes(file, then, then.Add(time.Millisecond)))
	saved := stamp()
	assert.False(t, maps.Equal(before, saved), "a save went unseen")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644))
	assert.True(t, maps.Equal(saved, stamp()), "a file that is not Go counted as a change")

	added := filepath.Join(dir, "order", "order_test.go")
	require.NoError(t, os.WriteFile(added, []byte("package order\n"), 0o644))
	withTest := stamp()
	assert.False(t, maps.Equal(saved, withTest), "a new .go file went unseen")

	require.NoError(t, os.Remove(added))
	assert.False(t, maps.Equal(withTest, stamp()), "a removed .go file went unseen")
	assert.True(t, maps.Equal(saved, stamp()))
}
