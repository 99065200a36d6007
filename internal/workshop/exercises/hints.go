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

// further is the task name of a step's "going further" task, for the fast
// attendees: its tests are named TestFurther_..., its hint "Hint for going
// further", and make hint TASK=further shows it.
const further = "further"

// hint is what a step's README says about one task: a nudge that points
// the way without giving the code away. The code itself comes from the
// solution, on request only (make hint TASK=N CODE=1, see answers.go); a
// README that shows it anyway has it in Code, which check refuses.
type hint struct {
	Nudge string
	Code  string
}

// hintSummary matches the folded sections of a README's hints:
//
//	<details><summary>Hint for task 2</summary>      the nudge
//	<details><summary>Hint for going further</summary>
//
// and the code that a README must no longer show, so that check finds it:
// "The code for task N", and its older name, "More for task N".
var hintSummary = regexp.MustCompile(`<details><summary>(Hint for|The code for|More for) (task (\d+)|going further)</summary>`)

// parseHints reads the hints of a README, by task: "1", "2", ... and
// "further".
func parseHints(readme string) map[string]hint {
	hints := make(map[string]hint)
	for _, m := range hintSummary.FindAllStringSubmatchIndex(readme, -1) {
		kind := readme[m[2]:m[3]]
		task := further
		if m[6] >= 0 {
			task = readme[m[6]:m[7]]
		}
		body, _, _ := strings.Cut(readme[m[1]:], "</details>")
		body = strings.Trim(body, "\n")
		h := hints[task]
		if kind == "Hint for" {
			h.Nudge = body
		} else {
			h.Code = body
		}
		hints[task] = h
	}
	return hints
}

// readHints reads the hints of the step in dir, from its README.md.
func readHints(dir string) (map[string]hint, error) {
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		return nil, err
	}
	return parseHints(string(readme)), nil
}

// taskName is how messages name a task: "task 2", or "going further".
func taskName(task string) string {
	if task == further {
		return "going further"
	}
	return "task " + task
}

// marker is a place in the code that tells the attendee what to do.
type marker struct {
	File string // relative to the step's folder
	Line int
}

func (m marker) String() string { return fmt.Sprintf("%s:%d", m.File, m.Line) }

// todoComment matches the comments that mark a task in a step's code:
//
//	// TODO(step01) Task 2: ...
//	// TODO(step01) Going further: ...
//
// but not the same words inside a string, such as an error that points at
// the comment.
var todoComment = regexp.MustCompile(`^\s*//\s*TODO\((step\d\d)\) (?:Task (\d+)|Going further):`)

// findMarkers lists, by task, where the TODO comments of the step in dir
// are, in the order of files and lines.
func findMarkers(dir string, s Step) (map[string][]marker, error) {
	markers := make(map[string][]marker)
	err := eachCodeFile(dir, func(rel string, lines []string) {
		for i, line := range lines {
			if task, ok := todoTask(line, s); ok {
				markers[task] = append(markers[task], marker{rel, i + 1})
			}
		}
	})
	return markers, err
}

// todoTask returns the task that line marks, if it is a TODO comment of
// step s.
func todoTask(line string, s Step) (task string, ok bool) {
	m := todoComment.FindStringSubmatch(line)
	if m == nil || !strings.HasPrefix(s.Dir, m[1]) {
		return "", false
	}
	return cmp.Or(m[2], further), true
}

// eachCodeFile calls do with the lines of every Go file under dir that is
// not a test, and its path relative to dir, with slashes.
func eachCodeFile(dir string, do func(rel string, lines []string)) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		do(filepath.ToSlash(rel), strings.Split(string(data), "\n"))
		return nil
	})
}

// tasksOf lists the tasks that markers and hints name, in order: the
// numbers first, then "further".
func tasksOf(markers map[string][]marker, hints map[string]hint) []string {
	var tasks []string
	for task := range markers {
		tasks = append(tasks, task)
	}
	for task := range hints {
		if _, ok := markers[task]; !ok {
			tasks = append(tasks, task)
		}
	}
	slices.SortFunc(tasks, func(a, b string) int { return taskOrder(a) - taskOrder(b) })
	return tasks
}

// taskOrder sorts the going-further task after the numbered ones.
func taskOrder(task string) int {
	if n, err := strconv.Atoi(task); err == nil {
		return n
	}
	return 1 << 20
}

// printHint writes the hint for task of the step in dir: the README's
// nudge, and the solution's code too if code is set. Without a task, it
// lists the step's tasks; an unknown task is an error that lists them.
func printHint(w io.Writer, dir string, s Step, task string, code bool) error {
	task = strings.TrimPrefix(strings.ToLower(task), "going ")
	hints, err := readHints(dir)
	if err != nil {
		return err
	}
	markers, err := findMarkers(dir, s)
	if err != nil {
		return err
	}
	if task == "" {
		return listTasks(w, dir, s, markers)
	}
	h, ok := hints[task]
	if !ok {
		tasks := tasksOf(markers, hints)
		if len(markers[task]) == 0 {
			return fmt.Errorf("%s has no %s; its tasks are %s", s.Dir, taskName(task), strings.Join(tasks, ", "))
		}
		return fmt.Errorf("the README of %s has no hint for %s yet; the TODO comment at %s says what to do", s.Dir, taskName(task), markers[task][0])
	}
	fmt.Fprintf(w, "Hint for %s in %s", taskName(task), s.Dir)
	if ms := markers[task]; len(ms) > 0 {
		fmt.Fprintf(w, " (%s)", ms[0])
	}
	fmt.Fprintf(w, ":\n\n%s\n", h.Nudge)
	if !code {
		fmt.Fprintf(w, "\nStill stuck? make hint TASK=%s CODE=1 shows the code.\n", task)
		return nil
	}
	root, err := moduleRoot(dir)
	if err != nil {
		return err
	}
	return printCode(w, root, s, task)
}

// listTasks writes the tasks of the step in dir, each with where its first
// TODO comment is and what it says.
func listTasks(w io.Writer, dir string, s Step, markers map[string][]marker) error {
	fmt.Fprintf(w, "The tasks of step %d; make hint TASK=N shows the hint for one:\n\n", stepNumber(s))
	for _, task := range tasksOf(markers, nil) {
		m := markers[task][0]
		data, err := os.ReadFile(filepath.Join(dir, m.File))
		if err != nil {
			return err
		}
		lines := strings.Split(string(data), "\n")
		fmt.Fprintf(w, "  %-14s %s\n  %-14s %s\n", "TASK="+task, m, "", todoGist(lines[m.Line-1:]))
	}
	return nil
}

// gistLength is about how long a task's gist in a list may be.
const gistLength = 90

// todoGist returns the first sentence of the TODO comment that begins
// lines[0], from the comment's lines, shortened to about gistLength.
func todoGist(lines []string) string {
	_, text, _ := strings.Cut(lines[0], ": ")
	for _, line := range lines[1:] {
		more, ok := strings.CutPrefix(strings.TrimSpace(line), "//")
		more = strings.TrimSpace(more)
		if !ok || more == "" || todoComment.MatchString(line) {
			break
		}
		text += " " + more
	}
	if i := strings.Index(text+" ", ". "); i >= 0 {
		text = text[:i+1]
	}
	if len(text) > gistLength {
		cut := strings.LastIndex(text[:gistLength], " ")
		text = text[:cut] + " …"
	}
	return text
}
