package main

import (
	"strings"
	"testing"
)

// exerciseRun is how the tests of an exercise ended, for judge: by test
// name, "fail: message", "pass" or "skip: why".
func exerciseRun(tests map[string]string) run {
	r := run{Tests: make(map[string]*result)}
	for name, outcome := range tests {
		action, output, _ := strings.Cut(outcome, ": ")
		r.Tests[name] = &result{Action: action, Output: output}
	}
	return r
}

func TestJudge(t *testing.T) {
	s := Step{Dir: "step09-test"}
	task1 := map[string][]marker{"1": {{"svc/svc.go", 3}}}
	withFurther := map[string][]marker{"1": {{"svc/svc.go", 3}}, further: {{"svc/svc.go", 9}}}
	for _, c := range []struct {
		name    string
		markers map[string][]marker
		tests   map[string]string
		want    []string // a part of each problem, in order; none: the exercise is fine
	}{{
		name:    "a task, its test fails naming it",
		markers: task1,
		tests:   map[string]string{"TestTask1_Hello": "fail: Task 1: say hello."},
	}, {
		name:    "and going further, failing with its words",
		markers: withFurther,
		tests: map[string]string{
			"TestTask1_Hello":         "fail: Task 1: say hello.",
			"TestFurther_Languages":   "fail: Going further: list the languages.",
			"TestFurther_AlsoByCurl":  "pass",
			"TestSomethingThatPasses": "pass",
		},
	}, {
		name:    "further tests are no task's",
		markers: task1,
		tests:   map[string]string{"TestTask1_Hello": "fail: Task 1: say hello.", "TestFurther_Languages": "fail: Going further: list them."},
		want:    []string{"TestFurther_ tests exist, but no TODO(step09) Going further: marker"},
	}, {
		name:    "a going-further marker without tests",
		markers: withFurther,
		tests:   map[string]string{"TestTask1_Hello": "fail: Task 1: say hello."},
		want:    []string{"a TODO(step09) Going further: marker (svc/svc.go:9), but no TestFurther_ test"},
	}, {
		name:    "going further passes in the exercise",
		markers: withFurther,
		tests:   map[string]string{"TestTask1_Hello": "fail: Task 1: say hello.", "TestFurther_Languages": "pass"},
		want:    []string{"going further: no test of it fails in the exercise (TestFurther_Languages)"},
	}, {
		name:    "going further fails without saying so",
		markers: withFurther,
		tests:   map[string]string{"TestTask1_Hello": "fail: Task 1: say hello.", "TestFurther_Languages": "fail: list the languages."},
		want:    []string{`TestFurther_Languages fails without naming "Going further:"`},
	}, {
		name:    "going further skipped",
		markers: withFurther,
		tests:   map[string]string{"TestTask1_Hello": "fail: Task 1: say hello.", "TestFurther_Languages": "skip: no RabbitMQ"},
		want:    []string{"TestFurther_Languages was skipped in the exercise", "going further: no test of it fails"},
	}, {
		name:    "a task without a marker, a marker without a test",
		markers: map[string][]marker{"2": {{"svc/svc.go", 5}}},
		tests:   map[string]string{"TestTask1_Hello": "fail: Task 1: say hello."},
		want:    []string{"task 2 has a TODO marker (svc/svc.go:5) but no TestTask2_ test", "tests check task 1, but no TODO(step09) Task 1 marker"},
	}, {
		name:    "a task that passes in the exercise",
		markers: task1,
		tests:   map[string]string{"TestTask1_Hello": "pass"},
		want:    []string{"task 1: no test of it fails in the exercise"},
	}, {
		name:    "only a going-further marker",
		markers: map[string][]marker{further: {{"svc/svc.go", 9}}},
		tests:   map[string]string{"TestFurther_Languages": "fail: Going further: list them."},
		want:    []string{"no TODO(step09) Task N markers"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			got := judge(s, c.markers, exerciseRun(c.tests))
			if len(got) != len(c.want) {
				t.Fatalf("judge found %d problems, want %d:\n  %s", len(got), len(c.want), strings.Join(got, "\n  "))
			}
			for i, want := range c.want {
				if !strings.Contains(got[i], want) {
					t.Errorf("problem %d is %q; want it to say %q", i+1, got[i], want)
				}
			}
		})
	}
}

func TestCheckHints(t *testing.T) {
	markers := map[string][]marker{"1": {{"svc/svc.go", 3}}, "2": {{"svc/svc.go", 5}}, further: {{"svc/svc.go", 9}}}
	hints := parseHints("<details><summary>Hint for task 1</summary>\n\nLook at strings.TrimSpace.\n\n</details>\n" +
		"<details><summary>The code for task 1</summary>\n\n```go\nname := strings.TrimSpace(req.Name)\n```\n\n</details>\n" +
		"<details><summary>Hint for task 2</summary>\n\n```go\nreturn nil\n```\n\n</details>\n" +
		"<details><summary>Hint for going further</summary>\n\nA map.\n\n</details>\n")
	got := checkHints(markers, hints)
	want := []string{
		"README.md's hint for task 2 shows a code block: move the code to <summary>The code for task 2</summary>, and nudge in words",
		"README.md has no <summary>The code for task 2</summary>",
		"README.md has no <summary>The code for going further</summary>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("checkHints found\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
