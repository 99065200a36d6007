package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	s := Step{Dir: "step09-x"}
	markers := map[string][]marker{"1": {{"svc/svc.go", 3}}, "2": {{"svc/svc.go", 5}}, further: {{"svc/svc.go", 9}}}
	hints := parseHints("<details><summary>Hint for task 1</summary>\n\nLook at strings.TrimSpace.\n\n</details>\n" +
		"<details><summary>The code for task 1</summary>\n\n```go\nname := strings.TrimSpace(req.Name)\n```\n\n</details>\n" +
		"<details><summary>Hint for task 2</summary>\n\n```go\nreturn nil\n```\n\n</details>\n" +
		"<details><summary>Hint for going further</summary>\n\nA map.\n\n</details>\n")
	answers := []answer{{Task: ""}, {Task: "1"}, {Task: "2"}}
	got := checkHints(s, markers, hints, answers)
	want := []string{
		"README.md's hint for task 2 shows a code block: nudge in words; make hint TASK=2 CODE=1 shows the code, from the solution",
		"solutions/step09-x has no solution block for going further, so make hint TASK=further CODE=1 has no code to show",
		"README.md shows the code for task 1, in plain sight in a terminal: remove its <summary>The code for task 1</summary>; make hint TASK=1 CODE=1 shows it from the solution",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("checkHints found\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestSolutionImportsFindsAStepLeaningOnSolutions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	write("order/order.go", "package order\n\nimport \"example.com/w/step09-x/ledger\"\n")
	write("order/order_test.go", "package order\n\nimport (\n\t\"testing\"\n\n\tk \"example.com/w/solutions/step09-x/kitchen\"\n)\n")
	write("order/README.md", "import \"example.com/w/solutions/step09-x/kitchen\"\n")
	got, err := solutionImports(dir, "example.com/w")
	require.NoError(t, err)
	assert.Equal(t, []string{"order/order_test.go imports example.com/w/solutions/step09-x/kitchen"}, got)

	// The steps as they are in the repository.
	for _, s := range steps {
		got, err := solutionImports(filepath.Join("..", "..", "..", s.Dir), "github.com/hive-workshop/microservices-go")
		require.NoError(t, err)
		assert.Empty(t, got, "%s imports solutions/", s.Dir)
	}
}
