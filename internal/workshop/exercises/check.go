package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// check proves that every exercise is what the workshop promises: generated
// from its solution and up to date, compiling and vetting, and failing each
// of its tasks with a message that names the task. (That every solution
// passes is proven by running its tests: make test-solutions.)
func check(root string) error {
	var problems []string
	for _, s := range steps {
		if _, err := os.Stat(filepath.Join(root, "solutions", s.Dir)); errors.Is(err, fs.ErrNotExist) {
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
	vet := exec.Command("go", "vet", "./"+s.Dir+"/...")
	if out, err := vet.CombinedOutput(); err != nil {
		problems = append(problems, "go vet fails in the exercise:\n"+string(out))
		return problems, nil
	}

	todos := todoTasks(s.Dir, want)
	if len(todos) == 0 {
		problems = append(problems, "no TODO("+s.Dir[:6]+") Task N markers in the exercise")
	}
	r, err := goTest(s.Dir)
	if err != nil {
		return nil, err
	}
	byTask := r.tasks()
	for _, n := range sortedKeys(todos) {
		if len(byTask[n]) == 0 {
			problems = append(problems, fmt.Sprintf("task %d has a TODO marker but no TestTask%d_ test", n, n))
		}
	}
	for _, n := range sortedKeys(byTask) {
		if !todos[n] {
			problems = append(problems, fmt.Sprintf("tests check task %d, but no TODO(%s) Task %d marker tells the attendee about it", n, s.Dir[:6], n))
		}
		failed := false
		for _, name := range byTask[n] {
			res := r.Tests[name]
			switch res.Action {
			case "skip":
				problems = append(problems, fmt.Sprintf("%s was skipped in the exercise (brokers missing?): %s", name, lastLine(res.Output)))
			case "fail":
				failed = true
				if !strings.Contains(res.Output, fmt.Sprintf("Task %d", n)) {
					problems = append(problems, fmt.Sprintf("%s fails without naming \"Task %d\" in its message", name, n))
				}
			}
		}
		if !failed {
			problems = append(problems, fmt.Sprintf("task %d: no TestTask%d_ test fails in the exercise, so the attendee has nothing to do", n, n))
		}
	}
	if len(r.Tests) == 0 {
		problems = append(problems, "no test ran:\n"+r.Output)
	}
	return problems, nil
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
