package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// taskTest matches the tests that check a task: TestTask2_EmptyNameIsBadRequest.
var taskTest = regexp.MustCompile(`^TestTask(\d+)_`)

// furtherTest matches the tests of the going-further task:
// TestFurther_LanguagesAreListed. They are no task's (see tasks).
var furtherTest = regexp.MustCompile(`^TestFurther_`)

// event is one line of go test -json (see go doc test2json). A build
// failure comes as build-output events, which name the package in
// ImportPath instead of Package.
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
}

// topTest is the top-level test an event belongs to: TestA for TestA/sub.
func (ev event) topTest() string {
	name, _, _ := strings.Cut(ev.Test, "/")
	return name
}

// ended reports whether the event ends a test or a package.
func (ev event) ended() bool {
	return ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip"
}

// streamTest runs go test -json with args in dir and hands each event to
// handle as it arrives, so that the caller can show progress. It returns
// go test's exit code; err is for a go command that could not run at all.
// What go test writes to stderr (a package that does not exist, say) goes
// to the event stream as output with neither package nor test.
func streamTest(dir string, args []string, env []string, handle func(event)) (exitCode int, err error) {
	cmd := exec.Command("go", append([]string{"test", "-json"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev event
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			ev = event{Action: "output", Output: sc.Text() + "\n"}
		}
		handle(ev)
	}
	err = cmd.Wait()
	if stderr.Len() > 0 {
		handle(event{Action: "output", Output: stderr.String()})
	}
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), nil
	}
	return 0, err
}

// result is how one top-level test ended, and what it printed.
type result struct {
	Action string // pass, fail or skip
	Output string
}

// run is the outcome of go test on one folder.
type run struct {
	Tests    map[string]*result // by test name
	Output   string             // everything printed, for build failures
	ExitCode int
}

// goTest runs the tests below dir and collects how each top-level test
// ended.
func goTest(dir string, extraEnv ...string) (run, error) {
	r := run{Tests: make(map[string]*result)}
	var all strings.Builder
	code, err := streamTest(".", []string{"-count=1", "./" + dir + "/..."}, extraEnv, func(ev event) {
		all.WriteString(ev.Output)
		r.record(ev)
	})
	r.ExitCode = code
	r.Output = all.String()
	return r, err
}

// record adds an event to the test it belongs to, if any.
func (r run) record(ev event) {
	name := ev.topTest()
	if name == "" {
		return
	}
	res := r.Tests[name]
	if res == nil {
		res = &result{}
		r.Tests[name] = res
	}
	res.Output += ev.Output
	if ev.Test == name && ev.ended() {
		res.Action = ev.Action
	}
}

// tasks groups the task tests of a run by task number.
func (r run) tasks() map[int][]string {
	byTask := make(map[int][]string)
	for name := range r.Tests {
		if m := taskTest.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[1])
			byTask[n] = append(byTask[n], name)
		}
	}
	for _, names := range byTask {
		sort.Strings(names)
	}
	return byTask
}

// furtherTests lists the going-further task's tests of a run, sorted.
func (r run) furtherTests() []string {
	var names []string
	for name := range r.Tests {
		if furtherTest.MatchString(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}
