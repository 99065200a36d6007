package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHintsReadsBothForms(t *testing.T) {
	readme := "# Step\n\n## Hints\n\n" +
		// The two levels: a nudge, and the code on request.
		"<details><summary>Hint for task 1</summary>\n\nA nudge.\n\n</details>\n\n" +
		"<details><summary>The code for task 1</summary>\n\n```go\nreturn 1\n```\n\n</details>\n\n" +
		// The older form: the code under "More for task N".
		"<details><summary>Hint for task 2</summary>\n\nAnother nudge.\n\n</details>\n\n" +
		"<details><summary>More for task 2</summary>\n\n```go\nreturn 2\n```\n\n</details>\n\n" +
		// A hint with its code inside, and no second level.
		"<details><summary>Hint for task 3</summary>\n\nUse this:\n\n```go\nreturn 3\n```\n\n</details>\n\n" +
		"<details><summary>Hint for going further</summary>\n\nFurther.\n\n</details>\n\n" +
		"<details><summary>The code for going further</summary>\n\nAll of it.\n\n</details>\n\n" +
		"## Stuck?\n"
	assert.Equal(t, map[string]hint{
		"1":     {Nudge: "A nudge.", Code: "```go\nreturn 1\n```"},
		"2":     {Nudge: "Another nudge.", Code: "```go\nreturn 2\n```"},
		"3":     {Nudge: "Use this:\n\n```go\nreturn 3\n```"},
		further: {Nudge: "Further.", Code: "All of it."},
	}, parseHints(readme))
}

// TestEveryTaskHasAHint keeps the step READMEs and the code together: the
// recap and make hint show the README's nudge for every task that a TODO
// comment marks.
func TestEveryTaskHasAHint(t *testing.T) {
	for _, s := range steps {
		dir := filepath.Join("..", "..", "..", "solutions", s.Dir)
		markers, err := findMarkers(dir, s)
		require.NoError(t, err)
		hints, err := readHints(dir)
		require.NoError(t, err)
		for task, ms := range markers {
			assert.NotEmpty(t, hints[task].Nudge, "%s: %s is marked at %s, but the README has no \"Hint for %s\"", s.Dir, taskName(task), ms[0], taskName(task))
		}
	}
}

// TestHintShowsTheCodeOfEveryTask runs make hint TASK=N CODE=1 for every
// task of every step, as an attendee would in the step's folder: the code
// comes from the solution, and there is some for every task.
func TestHintShowsTheCodeOfEveryTask(t *testing.T) {
	for _, s := range steps {
		dir := filepath.Join("..", "..", "..", s.Dir)
		markers, err := findMarkers(dir, s)
		require.NoError(t, err)
		for _, task := range tasksOf(markers, nil) {
			var out strings.Builder
			require.NoError(t, printHint(&out, dir, s, task, true), "%s, %s", s.Dir, taskName(task))
			assert.Contains(t, out.String(), "\nThe code for "+taskName(task)+", from solutions/"+s.Dir+":\n", "%s, %s", s.Dir, taskName(task))
		}
	}
}

func TestPrintHint(t *testing.T) {
	root := t.TempDir()
	s := Step{Dir: "step09-test"}
	dir := filepath.Join(root, s.Dir)
	write := func(name, text string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, name), []byte(text), 0o644))
	}
	write("go.mod", "module example.com/w\n")
	write("step09-test/README.md", "<details><summary>Hint for task 1</summary>\n\nA nudge.\n\n</details>\n")
	write("step09-test/svc/svc.go", "package svc\n\n// TODO(step09) Task 1: do it. And more.\n\n\t// TODO(step09) Task 2: and this,\n\t// which goes on.\nvar s = \"TODO(step09) Task 3: not a comment\"\n")
	write("solutions/step09-test/svc/svc.go", "package svc\n\nimport (\n\t// BEGIN SOLUTION\n\t\"fmt\"\n\t// END SOLUTION\n)\n\n"+
		"func f() {\n\t// TODO(step09) Task 1: do it. And more.\n\t// BEGIN SOLUTION\n\tfmt.Println(1)\n\t// STUB\n\t// panic(1)\n\t// END SOLUTION\n}\n")

	var out strings.Builder
	require.NoError(t, printHint(&out, dir, s, "1", false))
	assert.Equal(t, "Hint for task 1 in step09-test (svc/svc.go:3):\n\nA nudge.\n\nStill stuck? make hint TASK=1 CODE=1 shows the code.\n", out.String())

	out.Reset()
	require.NoError(t, printHint(&out, dir, s, "1", true))
	assert.Equal(t, "Hint for task 1 in step09-test (svc/svc.go:3):\n\nA nudge.\n\n"+
		"The code for task 1, from solutions/step09-test:\n\nsolutions/step09-test/svc/svc.go:12, in f:\n\n    fmt.Println(1)\n", out.String())

	out.Reset()
	require.NoError(t, printHint(&out, dir, s, "", false))
	assert.Equal(t, "The tasks of step 9; make hint TASK=N shows the hint for one:\n\n"+
		"  TASK=1         svc/svc.go:3\n                 do it.\n"+
		"  TASK=2         svc/svc.go:5\n                 and this, which goes on.\n", out.String())

	assert.EqualError(t, printHint(&out, dir, s, "3", false), "step09-test has no task 3; its tasks are 1, 2")
	assert.EqualError(t, printHint(&out, dir, s, "2", false), "the README of step09-test has no hint for task 2 yet; the TODO comment at svc/svc.go:5 says what to do")

	// A copy of the workshop without solutions/ says where the code would be.
	require.NoError(t, os.RemoveAll(filepath.Join(root, "solutions")))
	out.Reset()
	require.NoError(t, printHint(&out, dir, s, "1", true))
	assert.Contains(t, out.String(), "A nudge.\n\nThe code for task 1 comes from solutions/step09-test, which this copy of the workshop does not have.\n")
}
