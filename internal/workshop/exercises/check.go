package main

import (
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// check proves that every exercise is what the workshop promises: generated
// from its solution and up to date, compiling and vetting, and failing each
// of its tasks, and its going-further task, with a message that names the
// task. (That every solution
// passes is proven by running its tests: make test-solutions.)
func check(root string) error {
	var problems []string
	for _, s := range steps {
		if noSolutions(root, s) {
			problems = append(problems, s.Dir+": solutions/"+s.Dir+" does not exist")
			continue
		}
		ps, err := checkStep(root, s)
		if err != nil {
			return err
		}
		for _, p := range ps {
			problems = append(problems, s.Dir+": "+p)
		}
		if len(ps) == 0 {
			fmt.Printf("ok   %s\n", s.Dir)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return nil
}

func checkStep(root string, s Step) ([]string, error) {
	want, err := exerciseFiles(root, s)
	if err != nil {
		return nil, err
	}
	if stale := staleFiles(filepath.Join(root, s.Dir), want); len(stale) > 0 {
		return []string{fmt.Sprintf("out of date with solutions/%s (%s): run `make generate`", s.Dir, strings.Join(stale, ", "))}, nil
	}

	var problems []string
	module, err := modulePath(root)
	if err != nil {
		return nil, err
	}
	imports, err := solutionImports(filepath.Join(root, s.Dir), module)
	if err != nil {
		return nil, err
	}
	for _, imp := range imports {
		problems = append(problems, imp+": a step must not import solutions/, or it breaks in a clone without it; import the step's own package, or a helper outside solutions/")
	}

	vet := exec.Command("go", "vet", "./"+s.Dir+"/...")
	if out, err := vet.CombinedOutput(); err != nil {
		problems = append(problems, "go vet fails in the exercise:\n"+string(out))
		return problems, nil
	}

	markers, err := findMarkers(filepath.Join(root, s.Dir), s)
	if err != nil {
		return nil, err
	}
	hints, err := readHints(filepath.Join(root, s.Dir))
	if err != nil {
		return nil, err
	}
	answers, err := readAnswers(filepath.Join(root, "solutions", s.Dir), s)
	if err != nil {
		return nil, err
	}
	problems = append(problems, checkHints(s, markers, hints, answers)...)
	r, err := goTest(s.Dir)
	if err != nil {
		return nil, err
	}
	return append(problems, judge(s, markers, r)...), nil
}

// checkHints holds the README's hints to their promise, for every task a
// TODO comment marks: a nudge that gives no code away (no code block), and
// the code only on request, from the solution's blocks (answers), never in
// the README, where reading the ideas would show it.
func checkHints(s Step, markers map[string][]marker, hints map[string]hint, answers []answer) []string {
	var problems []string
	for _, task := range tasksOf(markers, nil) {
		h := hints[task]
		switch {
		case h.Nudge == "":
			problems = append(problems, fmt.Sprintf("README.md has no <summary>Hint for %s</summary>", taskName(task)))
		case strings.Contains(h.Nudge, "```"):
			problems = append(problems, fmt.Sprintf("README.md's hint for %s shows a code block: nudge in words; make hint TASK=%s CODE=1 shows the code, from the solution", taskName(task), task))
		}
		if !slices.ContainsFunc(answers, func(a answer) bool { return a.Task == task }) {
			problems = append(problems, fmt.Sprintf("solutions/%s has no solution block for %s, so make hint TASK=%s CODE=1 has no code to show", s.Dir, taskName(task), task))
		}
	}
	for _, task := range tasksOf(nil, hints) {
		if hints[task].Code != "" {
			problems = append(problems, fmt.Sprintf("README.md shows the code for %s, in plain sight in a terminal: remove its <summary>The code for %s</summary>; make hint TASK=%s CODE=1 shows it from the solution", taskName(task), taskName(task), task))
		}
	}
	return problems
}

// judge holds the exercise's TODO comments (by task, as findMarkers gives
// them) against how its tests ended, and lists every broken promise: a
// task marked without a test, a test without a marker, a task whose tests
// all pass (nothing to do), or a failure that does not say which task it
// is about. The going-further task follows the same rules: its tests,
// TestFurther_..., must fail with a message that starts "Going further:".
func judge(s Step, markers map[string][]marker, r run) []string {
	var problems []string
	byTask := r.tasks()
	if len(markers) == 0 || (len(markers) == 1 && markers[further] != nil) {
		problems = append(problems, "no TODO("+s.Dir[:6]+") Task N markers in the exercise")
	}
	for _, task := range tasksOf(markers, nil) {
		if task == further {
			continue
		}
		n, _ := strconv.Atoi(task)
		if len(byTask[n]) == 0 {
			problems = append(problems, fmt.Sprintf("task %d has a TODO marker (%s) but no TestTask%d_ test", n, markers[task][0], n))
		}
	}
	for _, n := range sortedKeys(byTask) {
		if markers[strconv.Itoa(n)] == nil {
			problems = append(problems, fmt.Sprintf("tests check task %d, but no TODO(%s) Task %d marker tells the attendee about it", n, s.Dir[:6], n))
		}
		problems = append(problems, failsNaming(r, byTask[n], fmt.Sprintf("task %d", n), fmt.Sprintf("Task %d", n))...)
	}

	furtherTests := r.furtherTests()
	switch {
	case len(furtherTests) > 0 && markers[further] == nil:
		problems = append(problems, fmt.Sprintf("TestFurther_ tests exist, but no TODO(%s) Going further: marker tells the attendee where to work", s.Dir[:6]))
	case len(furtherTests) == 0 && markers[further] != nil:
		problems = append(problems, fmt.Sprintf("a TODO(%s) Going further: marker (%s), but no TestFurther_ test", s.Dir[:6], markers[further][0]))
	}
	if len(furtherTests) > 0 {
		problems = append(problems, failsNaming(r, furtherTests, "going further", taskWords(further))...)
	}

	if len(r.Tests) == 0 {
		problems = append(problems, "no test ran:\n"+r.Output)
	}
	return problems
}

// failsNaming checks the tests of one task in the exercise: none was
// skipped, at least one failed, and each failure names the task in words.
func failsNaming(r run, tests []string, task, words string) []string {
	var problems []string
	failed := false
	for _, name := range tests {
		res := r.Tests[name]
		switch res.Action {
		case "skip":
			problems = append(problems, fmt.Sprintf("%s was skipped in the exercise (brokers missing?): %s", name, lastLine(res.Output)))
		case "fail":
			failed = true
			if !strings.Contains(res.Output, words) {
				problems = append(problems, fmt.Sprintf("%s fails without naming %q in its message", name, words))
			}
		}
	}
	if !failed {
		problems = append(problems, fmt.Sprintf("%s: no test of it fails in the exercise (%s), so the attendee has nothing to do", task, strings.Join(tests, ", ")))
	}
	return problems
}

// solutionImports lists the imports of module/solutions/... in the Go
// files under dir, as "file: path".
func solutionImports(dir, module string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == module+"/solutions" || strings.HasPrefix(p, module+"/solutions/") {
				found = append(found, filepath.ToSlash(rel)+" imports "+p)
			}
		}
		return nil
	})
	return found, err
}

// staleFiles lists the files of dir that differ from want, and those
// missing or extra.
func staleFiles(dir string, want map[string][]byte) []string {
	var stale []string
	seen := make(map[string]bool)
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		seen[rel] = true
		got, _ := os.ReadFile(path)
		if w, ok := want[rel]; !ok {
			stale = append(stale, rel+" is extra")
		} else if !bytes.Equal(got, w) {
			stale = append(stale, rel+" differs")
		}
		return nil
	})
	for rel := range want {
		if !seen[rel] {
			stale = append(stale, rel+" is missing")
		}
	}
	sort.Strings(stale)
	return stale
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
