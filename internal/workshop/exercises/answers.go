package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The code of a task comes from the solution, on request only (make hint
// TASK=N CODE=1): the solution blocks that generate removes from the
// exercise are the answers, so that there is one copy of each, and a
// README shows only ideas and nudges.

// answer is one solution block: code the attendee writes for a task.
type answer struct {
	File string // relative to the step's folder
	Line int    // of the block's first line of code
	Func string // the function it is in; "" outside one
	Task string // "1", "2", ... or further; "" for none (an import block)
	Code string
}

// beginTasks matches a solution block that names its tasks, where the
// nearest TODO comment above it would name the wrong one:
//
//	// BEGIN SOLUTION (tasks 1, 2, 3)
var beginTasks = regexp.MustCompile(`^// BEGIN SOLUTION \(tasks? ([\d, ]+)\)$`)

// isBegin reports whether a line, trimmed, opens a solution block.
func isBegin(marker string) bool {
	return marker == beginMarker || beginTasks.MatchString(marker)
}

// funcLine matches the first line of a function or method declaration, and
// captures its name.
var funcLine = regexp.MustCompile(`^func (?:\([^)]*\) )?(\w+)`)

// readAnswers reads the solution blocks of the step whose solution is in
// dir. A block belongs to the tasks its BEGIN line names, or else to the
// task of the nearest TODO comment above it in its file; one with neither
// (an import) belongs to no task. A block that names several tasks comes
// once for each.
func readAnswers(dir string, s Step) ([]answer, error) {
	var answers []answer
	err := eachCodeFile(dir, func(rel string, lines []string) {
		var (
			fn, lastTask string
			tasks        []string
			block        *strings.Builder
			start        int
			inStub       bool
		)
		for i, text := range lines {
			marker := strings.TrimSpace(text)
			if m := funcLine.FindStringSubmatch(text); m != nil {
				fn = m[1]
			} else if text == "}" {
				fn = "" // the function's end
			}
			if task, ok := todoTask(text, s); ok {
				lastTask = task
			}
			switch {
			case isBegin(marker):
				block, start, inStub = new(strings.Builder), i+2, false
				tasks = []string{lastTask}
				if m := beginTasks.FindStringSubmatch(marker); m != nil {
					tasks = strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' })
				}
			case block == nil:
			case marker == stubMarker:
				inStub = true
			case marker == endMarker:
				for _, task := range tasks {
					answers = append(answers, answer{File: rel, Line: start, Func: fn, Task: task, Code: dedent(block.String())})
				}
				block = nil
			case !inStub:
				block.WriteString(text + "\n")
			}
		}
	})
	return answers, err
}

// dedent removes the indent that every line of code shares, so that the
// code shows at the left margin.
func dedent(code string) string {
	lines := strings.Split(strings.Trim(code, "\n"), "\n")
	common, first := "", true
	for _, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		ind := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		if first {
			common, first = ind, false
		}
		for !strings.HasPrefix(ind, common) {
			common = common[:len(common)-1]
		}
	}
	for i, line := range lines {
		lines[i] = strings.TrimPrefix(line, common)
	}
	return strings.Join(lines, "\n")
}

// printCode writes the code of task, from the solution of the step in
// root/solutions, or says where it would come from when that is missing.
func printCode(w io.Writer, root string, s Step, task string) error {
	dir := filepath.Join(root, "solutions", s.Dir)
	if noSolutions(root, s) {
		fmt.Fprintf(w, "\nThe code for %s comes from solutions/%s, which this copy of the workshop does not have.\n", taskName(task), s.Dir)
		fmt.Fprintln(w, "Ask the presenter, or look in solutions/ of the workshop's repository.")
		return nil
	}
	answers, err := readAnswers(dir, s)
	if err != nil {
		return err
	}
	n := 0
	for _, a := range answers {
		if a.Task != task {
			continue
		}
		if n == 0 {
			fmt.Fprintf(w, "\nThe code for %s, from solutions/%s:\n", taskName(task), s.Dir)
		}
		n++
		where := fmt.Sprintf("solutions/%s/%s:%d", s.Dir, a.File, a.Line)
		if a.Func != "" {
			where += ", in " + a.Func
		}
		fmt.Fprintf(w, "\n%s:\n\n%s\n", where, indent(a.Code, "    "))
	}
	if n == 0 {
		return fmt.Errorf("solutions/%s has no solution block for %s", s.Dir, taskName(task))
	}
	return nil
}

// moduleRoot returns the folder of go.mod, dir or one above it.
func moduleRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or a folder above it", abs)
		}
	}
}
