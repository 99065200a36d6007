package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// status prints a line per step, with its tasks passed out of total, as
// soon as that step's tests are known. It runs only the task tests, and
// lets go test's cache answer for every package that passed before and did
// not change since, so that a status of finished steps takes seconds. A
// package that fails runs again every time: go test caches only success.
func status(root string, chaos bool) error {
	_, err := statusOf(root, "", chaos, os.Stdout)
	return err
}

// stepStatus is what status found for one step.
type stepStatus struct {
	Step   Step
	Tests  run      // the task tests that ran, by name
	Fresh  []string // packages whose tests ran, rather than come from the cache
	Cached int      // packages whose results came from the cache
	Build  bool     // a package did not compile

	// NotStarted is the number of tasks of an exercise that is as it was
	// generated, whose tests did not run; 0 otherwise.
	NotStarted int
}

// statusOf is status for the steps in root/under/stepNN-*: under is ""
// for the exercises, "solutions" for the solutions. It writes the table to
// w as it goes, and returns what it found, step by step.
func statusOf(root, under string, chaos bool, w io.Writer) ([]*stepStatus, error) {
	module, err := modulePath(root)
	if err != nil {
		return nil, err
	}
	found := make([]*stepStatus, len(steps))
	dirs := make([]string, len(steps))
	var toTest []string
	for i, s := range steps {
		found[i] = &stepStatus{Step: s, Tests: run{Tests: make(map[string]*result)}}
		dirs[i] = "./" + filepath.ToSlash(filepath.Join(under, s.Dir))
		if under == "" {
			// An exercise as it was generated fails every task: check-exercises
			// proves it. Its tests need not run to say so.
			untouched, err := asGenerated(filepath.Join(root, s.Dir))
			if err != nil {
				return nil, err
			}
			if untouched {
				markers, err := findMarkers(filepath.Join(root, s.Dir), s)
				if err != nil {
					return nil, err
				}
				found[i].NotStarted = len(markers)
				if _, ok := markers[further]; ok {
					found[i].NotStarted-- // not a task of the step's own
				}
				continue
			}
		}
		toTest = append(toTest, dirs[i])
	}
	// Which step each package belongs to, and how many each step has, to
	// know when a step is complete: go test runs the packages of all steps
	// at once, and their results come in any order.
	stepOf := make(map[string]int)
	pending := make([]int, len(steps))
	if len(toTest) > 0 {
		list, err := exec.Command("go", append([]string{"list", "-C", root}, patterns(toTest)...)...).Output()
		if err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		for _, pkg := range strings.Fields(string(list)) {
			for i, dir := range dirs {
				prefix := module + strings.TrimPrefix(dir, ".")
				if pkg == prefix || strings.HasPrefix(pkg, prefix+"/") {
					stepOf[pkg] = i
					pending[i]++
				}
			}
		}
	}

	args := []string{"-run", "^TestTask"}
	var slow []string
	if !chaos {
		for _, s := range steps {
			if s.Slow != "" {
				slow = append(slow, "^"+s.Slow+"$")
			}
		}
		if len(slow) > 0 {
			args = append(args, "-skip", strings.Join(slow, "|"))
		}
	}

	fmt.Fprintf(w, "%-18s %-28s %-7s %s\n", "STEP", "", "TASKS", "")
	shown := 0
	showDone := func() {
		for shown < len(steps) && pending[shown] == 0 {
			fmt.Fprintln(w, statusLine(found[shown]))
			shown++
		}
	}
	showDone() // the steps not started
	if len(toTest) == 0 {
		return found, nil
	}
	_, err = streamTest(root, append(args, patterns(toTest)...), nil, func(ev event) {
		pkg := ev.Package
		if pkg == "" {
			pkg, _, _ = strings.Cut(ev.ImportPath, " ")
		}
		i, ok := stepOf[pkg]
		if !ok {
			return
		}
		st := found[i]
		switch {
		case ev.Action == "build-fail":
			st.Build = true
		case ev.Test != "":
			st.Tests.record(ev)
		case ev.Action == "output" && strings.Contains(ev.Output, "(cached)"):
			st.Cached++
		case ev.Action == "output" && (strings.HasPrefix(ev.Output, "ok ") || strings.HasPrefix(ev.Output, "FAIL\t"+pkg)):
			st.Fresh = append(st.Fresh, pkg)
		case ev.ended():
			pending[i]--
			if pending[i] > 0 {
				return
			}
			if st.Cached > 0 && st.skipped() > 0 {
				// A skip says that a broker was not running when the
				// tests last ran. It may be now: look again.
				st.Tests = run{Tests: make(map[string]*result)}
				streamTest(root, append([]string{"-count=1"}, append(args, dirs[i]+"/...")...), nil, func(ev event) {
					st.Tests.record(ev)
				})
			}
			showDone()
		}
	})
	if err != nil {
		return nil, err
	}
	for i := range pending {
		pending[i] = 0 // a package that never ended (go test failed early) cannot hold up the rest
	}
	showDone()
	var left []string
	for _, st := range found {
		if st.Step.Slow != "" && !chaos && st.NotStarted == 0 {
			left = append(left, st.Step.Dir+"'s "+st.Step.Slow)
		}
	}
	if len(left) > 0 {
		fmt.Fprintf(w, "\nSkipped, as it takes half a minute: %s. `make status CHAOS=1` runs it too.\n", strings.Join(left, ", "))
	}
	return found, nil
}

// noSolutions reports whether the solution of s is missing from root: in
// a copy of the workshop that hands out the exercises alone.
func noSolutions(root string, s Step) bool {
	_, err := os.Stat(filepath.Join(root, "solutions", s.Dir))
	return errors.Is(err, fs.ErrNotExist)
}

// patterns are the go package patterns for everything below dirs.
func patterns(dirs []string) []string {
	ps := make([]string, len(dirs))
	for i, dir := range dirs {
		ps[i] = dir + "/..."
	}
	return ps
}

// skipped counts the task tests that were skipped.
func (st *stepStatus) skipped() int {
	n := 0
	for _, res := range st.Tests.Tests {
		if res.Action == "skip" {
			n++
		}
	}
	return n
}

// statusLine is the line of a step in the status table.
func statusLine(st *stepStatus) string {
	s := st.Step
	if st.NotStarted > 0 {
		return fmt.Sprintf("%-18s %-28s %d/%-5d %s  not started", s.Dir, s.Title, 0, st.NotStarted, strings.Repeat("□", st.NotStarted))
	}
	byTask := st.Tests.tasks()
	done := 0
	for _, names := range byTask {
		passed := true
		for _, name := range names {
			passed = passed && st.Tests.Tests[name].Action == "pass"
		}
		if passed {
			done++
		}
	}
	total := len(byTask)
	note := strings.Repeat("■", done) + strings.Repeat("□", total-done)
	switch {
	case st.Build:
		note = "does not compile: run `make test` in " + s.Dir + " to see why"
	case st.skipped() > 0:
		note = "needs " + s.Needs + ": run `make up`"
	case total > 0 && done == total:
		note += "  done"
	}
	return fmt.Sprintf("%-18s %-28s %d/%-5d %s", s.Dir, s.Title, done, total, note)
}
