package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatusServesFinishedStepsFromTheCache checks how make status is fast
// on a warm cache, by its mechanism rather than a clock: the second status
// of the finished steps (the solutions) takes every result from go test's
// cache and runs no test again, and step 5's chaos test is left out.
func TestStatusServesFinishedStepsFromTheCache(t *testing.T) {
	t.Setenv("HIVE_REQUIRE_BROKERS", "1")
	// CI sets GOFLAGS=-count=1, so that no test of the brokers answers
	// from the cache; here the cache is what is tested.
	t.Setenv("GOFLAGS", strings.ReplaceAll(os.Getenv("GOFLAGS"), "-count=1", ""))
	root := filepath.Join("..", "..", "..")
	_, err := statusOf(root, "solutions", false, io.Discard) // warms the cache, if it is not yet
	require.NoError(t, err)

	var table strings.Builder
	found, err := statusOf(root, "solutions", false, &table)
	require.NoError(t, err)
	require.Len(t, found, len(steps))
	lines := strings.Split(table.String(), "\n")
	for i, st := range found {
		s := st.Step
		assert.Empty(t, st.Fresh, "%s: these packages ran their tests again instead of answering from go test's cache", s.Dir)
		assert.NotZero(t, st.Cached, "%s: no package answered from go test's cache", s.Dir)
		assert.NotEmpty(t, st.Tests.tasks(), "%s: no task test ran", s.Dir)
		for name := range st.Tests.Tests {
			assert.Regexp(t, `^TestTask\d+_`, name, "%s: status runs only the task tests", s.Dir)
		}
		if s.Slow != "" {
			assert.NotContains(t, st.Tests.Tests, s.Slow, "%s: the slow test ran without CHAOS=1", s.Dir)
		}
		// One line per step, in the order of the steps, after the header.
		assert.True(t, strings.HasPrefix(lines[i+1], s.Dir), "line %d of the table is %q, want %s's", i+1, lines[i+1], s.Dir)
		assert.True(t, strings.HasSuffix(lines[i+1], "done"), "%s is not done in the solutions: %q", s.Dir, lines[i+1])
	}
	assert.Contains(t, table.String(), "Skipped, as it takes half a minute: step05-beehive's TestTask5_NoOrderIsLostOrDoubledWhenBeesDie.")
}

// BenchmarkStatusWarm measures make status of the finished steps on a warm
// cache: the time a finished attendee waits.
func BenchmarkStatusWarm(b *testing.B) {
	root := filepath.Join("..", "..", "..")
	if _, err := statusOf(root, "solutions", false, io.Discard); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := statusOf(root, "solutions", false, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStatusRunsNoTestOfAnExerciseNotStarted: an exercise as it was
// generated fails every task (check-exercises proves it), so status says
// so without running its tests.
func TestStatusRunsNoTestOfAnExerciseNotStarted(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	var table strings.Builder
	found, err := statusOf(root, "", false, &table)
	require.NoError(t, err)
	for _, st := range found {
		want, err := exerciseFiles(root, st.Step)
		require.NoError(t, err)
		if len(staleFiles(filepath.Join(root, st.Step.Dir), want)) > 0 {
			continue // someone is working on it
		}
		assert.NotZero(t, st.NotStarted, st.Step.Dir)
		assert.Empty(t, st.Tests.Tests, "%s: status ran tests of an exercise not started", st.Step.Dir)
		assert.Contains(t, table.String(), statusLine(st))
	}
}

func TestAsGeneratedTellsAnExerciseNotStarted(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"README.md": []byte("# Step\n"), filepath.Join("svc", "svc.go"): []byte("package svc\n")}
	files[sumsFile] = sums(files)
	require.NoError(t, writeFiles(dir, files))
	untouched, err := asGenerated(dir)
	require.NoError(t, err)
	assert.True(t, untouched, "as written")

	svc := filepath.Join(dir, "svc", "svc.go")
	require.NoError(t, os.WriteFile(svc, []byte("package svc\n\nvar x int\n"), 0o644))
	untouched, err = asGenerated(dir)
	require.NoError(t, err)
	assert.False(t, untouched, "a file changed")

	require.NoError(t, os.WriteFile(svc, files[filepath.Join("svc", "svc.go")], 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "svc", "more.go"), []byte("package svc\n"), 0o644))
	untouched, err = asGenerated(dir)
	require.NoError(t, err)
	assert.False(t, untouched, "a file added")

	require.NoError(t, os.Remove(filepath.Join(dir, "svc", "more.go")))
	require.NoError(t, os.Remove(filepath.Join(dir, sumsFile)))
	untouched, err = asGenerated(dir)
	require.NoError(t, err)
	assert.False(t, untouched, "no sums: nobody can tell")
}
