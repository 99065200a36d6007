package main

import (
	"cmp"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The step runner: make test (and make further) in a step folder. It runs
// the step's tests, shows their output as it comes, and ends with the same
// short recap in every step: the first failing task, where its TODO comment
// is, and the README's hint for it. So the one thing to do next is the last
// thing on the screen, not a hundred lines up.

// machineFault is what a test says when the machine failed it, not the
// attendee's code (step 5's chaos test, on a machine too busy).
const machineFault = "the machine, not your code"

// runOptions say which of a step's tests run, and how much of them shows.
type runOptions struct {
	Further bool     // only the going-further tests, TestFurther_...
	Run     string   // go test -run, instead of the default; for tests of the runner
	Env     []string // more environment for go test, as "KEY=value"
}

// stepRun is what one run of a step's tests found.
type stepRun struct {
	Step     Step
	Further  bool
	Ran      int          // top-level tests that ended
	Failed   []failedTest // in the order they ended
	Skipped  int
	Build    bool // a package did not compile
	ExitCode int
	// FurtherGreen is set when the step is green and so are its
	// going-further tests, which then ran too: nothing is left to offer.
	FurtherGreen bool
}

// failedTest is a top-level test that failed, with all it printed.
type failedTest struct {
	Name   string
	Task   string // "1", "2", ... or further; "" for a test of no task
	Output string
}

// taskOfTest matches the tests that check a task, TestTask2_..., and those
// of the going-further task, TestFurther_....
var taskOfTest = regexp.MustCompile(`^Test(?:Task(\d+)|Further)_`)

// runStep runs the tests of step s in dir (its exercise folder or its
// solution), package by package until one fails, and writes their output
// to live as it comes: all of it for a verbose step, only the failures and
// skips otherwise.
func runStep(dir string, s Step, opts runOptions, live io.Writer) (*stepRun, error) {
	args := []string{"-count=1"}
	if !s.Verbose {
		args = append(args, "-failfast")
	}
	switch {
	case opts.Run != "":
		args = append(args, "-run", opts.Run)
	case opts.Further:
		args = append(args, "-run", "^TestFurther_")
	default:
		// The going-further tests are for after the step is done.
		args = append(args, "-skip", "^TestFurther_")
	}

	r := &stepRun{Step: s, Further: opts.Further}
	outputs := make(map[string]*strings.Builder) // by package and top-level test
	handle := func(ev event) {
		if ev.Action == "build-fail" {
			r.Build = true
		}
		name := ev.topTest()
		if name == "" {
			// A package's summary (ok, FAIL), a build error, or go test's
			// own complaint.
			if s.Verbose || ev.Output != "PASS\n" {
				io.WriteString(live, ev.Output)
			}
			return
		}
		key := ev.Package + " " + name
		out := outputs[key]
		if out == nil {
			out = new(strings.Builder)
			outputs[key] = out
		}
		if !isRunLine(ev.Output) {
			out.WriteString(ev.Output)
			if s.Verbose {
				io.WriteString(live, ev.Output)
			}
		}
		if ev.Test != name || !ev.ended() {
			return
		}
		r.Ran++
		switch ev.Action {
		case "fail":
			task := ""
			if m := taskOfTest.FindStringSubmatch(name); m != nil {
				task = cmp.Or(m[1], further)
			}
			r.Failed = append(r.Failed, failedTest{Name: name, Task: task, Output: out.String()})
		case "skip":
			r.Skipped++
		}
		if !s.Verbose && ev.Action != "pass" {
			io.WriteString(live, out.String())
		}
		delete(outputs, key)
	}

	// The packages come in the order of the tasks, and go test runs one
	// package after the other until one fails: the tests of later tasks
	// (step 5's chaos harness, step 3's system test, which builds every
	// service) cannot pass before the earlier tasks do, so running them
	// would only cost time and bury the failure that matters.
	pkgs := s.Packages
	if opts.Further && opts.Run == "" {
		// Only the packages that have going-further tests: the others
		// would only say "no tests to run".
		var err error
		if pkgs, err = furtherPackages(dir); err != nil {
			return r, err
		}
	}
	for i, pkg := range pkgs {
		code, err := streamTest(dir, append(args, pkg), opts.Env, handle)
		if err != nil {
			return r, err
		}
		r.ExitCode = max(r.ExitCode, code)
		if rest := pkgs[i+1:]; code != 0 && len(rest) > 0 {
			fmt.Fprintf(live, "\n(Not run yet: the tests of %s, which come after these.)\n", strings.Join(rest, " "))
			break
		}
	}
	if !opts.Further && opts.Run == "" && r.green() {
		// Green: has the attendee done the going-further task too? Its
		// tests say so quietly, so that the recap offers it only when
		// it is still to do.
		fr, err := runStep(dir, s, runOptions{Further: true, Env: opts.Env}, io.Discard)
		if err != nil {
			return r, err
		}
		r.FurtherGreen = fr.Ran > 0 && fr.green()
	}
	return r, nil
}

// furtherTestFunc is how a going-further test begins in a test file.
var furtherTestFunc = regexp.MustCompile(`(?m)^func TestFurther_`)

// furtherPackages lists the packages under dir that have going-further
// tests, as "./kitchen", in the order of their folders.
func furtherPackages(dir string) ([]string, error) {
	var pkgs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(path))
		pkg := "./" + filepath.ToSlash(rel)
		if rel == "." {
			pkg = "."
		}
		if furtherTestFunc.Match(data) && !slices.Contains(pkgs, pkg) {
			pkgs = append(pkgs, pkg)
		}
		return nil
	})
	return pkgs, err
}

// isRunLine reports whether a line of output only repeats a test's name:
// "=== RUN   TestX", and PAUSE, CONT, NAME for parallel tests.
func isRunLine(line string) bool {
	for _, prefix := range []string{"=== RUN ", "=== PAUSE ", "=== CONT ", "=== NAME "} {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

// stepNumber is 3 for step03-events.
func stepNumber(s Step) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(s.Dir[:6], "step"))
	return n
}

// green reports whether the run proves the step done: everything ran and
// passed, and nothing was skipped (a skipped test proves nothing).
func (r *stepRun) green() bool {
	return r.ExitCode == 0 && r.Skipped == 0 && (r.Ran > 0 || r.Further)
}

// firstTask returns the failed test of the lowest task, in which the
// attendee's code failed: a test that blames the machine and names no task
// is not one of them.
func (r *stepRun) firstTask() (failedTest, bool) {
	var first failedTest
	found := false
	for _, f := range r.Failed {
		if f.Task == "" || (strings.Contains(f.Output, machineFault) && !strings.Contains(f.Output, taskWords(f.Task))) {
			continue
		}
		if !found || taskOrder(f.Task) < taskOrder(first.Task) {
			first, found = f, true
		}
	}
	return first, found
}

// taskWords is how a test's message names its task: "Task 2:".
func taskWords(task string) string {
	if task == further {
		return "Going further:"
	}
	return "Task " + task + ":"
}

// recap writes the end of a run, the same in every step: what to do next,
// where, and the hint for it; or that the step is done. dir is the step's
// folder, where its README and code are.
func (r *stepRun) recap(w io.Writer, dir string) error {
	s := r.Step
	fmt.Fprintln(w)
	if r.Skipped > 0 {
		why := "SKIP above says why"
		if s.Needs != "" {
			why += ", usually that " + s.Needs + " is not running"
		}
		fmt.Fprintf(w, "%d tests were skipped; %s.\n", r.Skipped, why)
		fmt.Fprintln(w, "Run `make up` in the repository's top folder, then `make test` here again.")
	}
	if f, ok := r.firstTask(); ok {
		return r.doThisNext(w, dir, f)
	}
	switch {
	case r.ExitCode == 0:
	case slices.ContainsFunc(r.Failed, func(f failedTest) bool { return strings.Contains(f.Output, machineFault) }):
		fmt.Fprintf(w, "Not green, but not because of your code: read %q above, then run `make test` again.\n", machineFault)
		return nil
	case r.Build:
		fmt.Fprintln(w, "Not green yet: the code does not compile. The first error above says where (file:line).")
		return nil
	default:
		fmt.Fprintln(w, "Not green yet. Read the first failure above: it says what to do next.")
		return nil
	}
	switch {
	case r.Skipped > 0:
	case r.Further && r.Ran == 0:
		fmt.Fprintf(w, "Step %d has no going-further task (no TestFurther_ test).\n", stepNumber(s))
	case r.Ran == 0:
		fmt.Fprintln(w, "No test ran.")
	case r.Further:
		fmt.Fprintf(w, "All green: you went further in step %d.\n", stepNumber(s))
	default:
		fmt.Fprintln(w, s.Done)
		markers, err := findMarkers(dir, s)
		if err != nil {
			return err
		}
		switch {
		case len(markers[further]) == 0:
		case r.FurtherGreen:
			fmt.Fprintln(w, "And its going-further task is green too.")
		default:
			fmt.Fprintln(w, "Time to spare? `make further` has a going-further task for you.")
		}
		if next, ok := stepAfter(s); ok {
			fmt.Fprintf(w, "Next: step %d, %s: cd ../%s and read its README.md.\n", stepNumber(next), next.Title, next.Dir)
		}
	}
	return nil
}

// stepAfter returns the step that comes after s, if s is not the last.
func stepAfter(s Step) (Step, bool) {
	for i := range steps[:len(steps)-1] {
		if steps[i].Dir == s.Dir {
			return steps[i+1], true
		}
	}
	return Step{}, false
}

// doThisNext writes the recap of a failed task: its message, the TODO
// comments that mark it, and the README's nudge.
func (r *stepRun) doThisNext(w io.Writer, dir string, f failedTest) error {
	markers, err := findMarkers(dir, r.Step)
	if err != nil {
		return err
	}
	hints, err := readHints(dir)
	if err != nil {
		return err
	}
	what := taskName(f.Task)
	if f.Task == further {
		what = "the going-further task"
	}
	fmt.Fprintf(w, "Not green yet. Do this next, %s of step %d:\n\n", what, stepNumber(r.Step))
	for _, line := range taskMessage(f.Output, f.Task) {
		fmt.Fprintln(w, "  "+line)
	}
	if ms := markers[f.Task]; len(ms) > 0 {
		where := make([]string, len(ms))
		for i, m := range ms {
			where[i] = m.String()
		}
		fmt.Fprintf(w, "\nWhere: %s\n", strings.Join(where, ", "))
	}
	if h, ok := hints[f.Task]; ok && h.Nudge != "" {
		fmt.Fprintf(w, "\nHint:\n%s\n", indent(h.Nudge, "  "))
		fmt.Fprintf(w, "\nMore: make hint TASK=%s\n", f.Task)
	}
	return nil
}

// goTestIndent is how much further go test indents the lines of a
// message that go on from its first line.
const goTestIndent = 4

// maxMessageLines is how much of a failure's message the recap repeats.
const maxMessageLines = 8

// taskMessage picks a failed test's message out of its output: the line
// that names the task ("kitchen_test.go:27: Task 2: ...") and the lines
// that go on from it, which go test indents further. A test that fails
// without naming its task (a panic, say) gives its first lines.
func taskMessage(output, task string) []string {
	lines := strings.Split(strings.TrimRight(output, "\n"), "\n")
	var msg []string
	for i, line := range lines {
		if !strings.Contains(line, taskWords(task)) {
			continue
		}
		margin := len(line) - len(strings.TrimLeft(line, " "))
		msg = append(msg, line[margin:])
		for _, next := range lines[i+1:] {
			more := strings.TrimLeft(next, " ")
			depth := len(next) - len(more)
			// A log line that a service printed while the test ran
			// follows at the message's own depth; one that the message
			// quotes ("the log line\n  time=...") sits deeper.
			if depth <= margin || depth == margin+goTestIndent && strings.HasPrefix(more, "time=") {
				break
			}
			msg = append(msg, next[margin:])
		}
		break
	}
	if msg == nil {
		for _, line := range lines {
			if !strings.HasPrefix(line, "--- ") {
				msg = append(msg, strings.TrimLeft(line, " "))
			}
		}
	}
	if len(msg) > maxMessageLines {
		msg = append(msg[:maxMessageLines], "...")
	}
	return msg
}

// indent puts prefix before every line of text that is not empty.
func indent(text, prefix string) string {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if line != "" {
			lines[i] = prefix + line
		}
	}
	return strings.Join(lines, "\n")
}
