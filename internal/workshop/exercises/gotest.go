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

// taskTodo matches the markers that tell the attendee what to do:
// TODO(step01) Task 2: ...
var taskTodo = regexp.MustCompile(`TODO\((step\d\d)\) Task (\d+)`)

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
	cmd := exec.Command("go", "test", "-json", "-count=1", "./"+dir+"/...")
	cmd.Env = append(os.Environ(), extraEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	r := run{Tests: make(map[string]*result)}
	if exit, ok := err.(*exec.ExitError); ok {
		r.ExitCode = exit.ExitCode()
	} else if err != nil {
		return r, err
	}
	var all strings.Builder
	all.WriteString(stderr.String())
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct{ Action, Test, Output string }
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			all.WriteString(sc.Text() + "\n")
			continue
		}
		all.WriteString(ev.Output)
		name, _, _ := strings.Cut(ev.Test, "/")
		if name == "" {
			continue
		}
		res := r.Tests[name]
		if res == nil {
			res = &result{}
			r.Tests[name] = res
		}
		res.Output += ev.Output
		if ev.Test == name && (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip") {
			res.Action = ev.Action
		}
	}
	r.Output = all.String()
	return r, nil
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

// todoTasks returns the task numbers named by TODO markers in files.
func todoTasks(step string, files map[string][]byte) map[int]bool {
	tasks := make(map[int]bool)
	for name, data := range files {
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		for _, m := range taskTodo.FindAllStringSubmatch(string(data), -1) {
			if strings.HasPrefix(step, m[1]) {
				n, _ := strconv.Atoi(m[2])
				tasks[n] = true
			}
		}
	}
	return tasks
}
