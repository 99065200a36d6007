package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// copyWithoutSolutions copies the repository at root into a new folder,
// without .git and solutions/: what an organiser hands out who gives the
// exercises alone.
func copyWithoutSolutions(t *testing.T, root string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == ".git" || rel == "solutions" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// runMake runs make with args in dir and returns what it printed, and
// whether it succeeded.
func runMake(t *testing.T, dir string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("make %s in %s: %v", strings.Join(args, " "), dir, err)
	}
	return string(out), err == nil
}

// TestTheStepsStandWithoutSolutions copies the workshop without solutions/
// and uses it as an attendee would: make status from the top, and in each
// step make test (which must fail on task 1, not on a missing import),
// make hint with and without TASK, and CODE=1, which says where the code
// would come from; make further in step 1. make catch-up says that it
// cannot. Steps 3 to 5 need
// the brokers, as make test does (HIVE_REQUIRE_BROKERS=1 in CI).
func TestTheStepsStandWithoutSolutions(t *testing.T) {
	root := copyWithoutSolutions(t, filepath.Join("..", "..", ".."))

	// The exercises are as generated: status knows it from their
	// .generated files, without the solutions and without running a test.
	out, ok := runMake(t, root, "status")
	if !ok {
		t.Fatalf("make status failed without solutions/:\n%s", out)
	}
	for _, s := range steps {
		if !regexp.MustCompile(`(?m)^` + s.Dir + ` .* not started$`).MatchString(out) {
			t.Errorf("make status without solutions/ does not say that %s is not started:\n%s", s.Dir, out)
		}
	}

	for _, s := range steps {
		dir := filepath.Join(root, s.Dir)
		out, ok := runMake(t, dir, "test")
		if want := "Do this next, task 1 of step"; ok || !strings.Contains(out, want) {
			t.Errorf("%s: make test without solutions/ must fail on task 1 (%q); it said:\n%s", s.Dir, want, out)
		}
		out, ok = runMake(t, dir, "hint", "TASK=1")
		if !ok || !strings.Contains(out, "Hint for task 1 in "+s.Dir) {
			t.Errorf("%s: make hint TASK=1 without solutions/:\n%s", s.Dir, out)
		}
		out, ok = runMake(t, dir, "hint")
		if !ok || !strings.Contains(out, "TASK=1 ") {
			t.Errorf("%s: make hint without TASK does not list the tasks:\n%s", s.Dir, out)
		}
		out, ok = runMake(t, dir, "hint", "TASK=1", "CODE=1")
		if want := "comes from solutions/" + s.Dir + ", which this copy of the workshop does not have"; !ok || !strings.Contains(out, want) {
			t.Errorf("%s: make hint TASK=1 CODE=1 without solutions/ must say %q:\n%s", s.Dir, want, out)
		}
	}

	// make further runs the same code as make test; once is enough.
	out, ok = runMake(t, filepath.Join(root, steps[0].Dir), "further")
	if want := "Do this next, the going-further task of step 1"; ok || !strings.Contains(out, want) {
		t.Errorf("%s: make further without solutions/ must fail on the going-further task (%q); it said:\n%s", steps[0].Dir, want, out)
	}

	out, ok = runMake(t, root, "catch-up", "STEP="+steps[0].Dir)
	if want := "is not in this copy of the workshop"; ok || !strings.Contains(out, want) {
		t.Errorf("make catch-up without solutions/ must fail saying %q:\n%s", want, out)
	}
}
