package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// pythonPage is the page that maps Go to Python for the attendees; each of
// its sections ends with "In the steps:" and where a step uses the idiom.
const pythonPage = "docs/python-to-go.md"

// stepUse matches one place of an "In the steps:" line:
//
//	`select {` in [step04-discovery/kitchen/kitchen.go](../step04-discovery/kitchen/kitchen.go)
var stepUse = regexp.MustCompile("`([^`]+)` in \\[([^\\]]+)\\]\\(\\.\\./([^)]+)\\)")

// pageUses reads the places that the "In the steps:" lines of page name, as
// token, file (relative to the repository) pairs; an "In the steps:" line
// that names none is an error, reported as a place with an empty file.
func pageUses(page string) [][2]string {
	var uses [][2]string
	inSteps := false
	for line := range strings.Lines(page) {
		if strings.HasPrefix(line, "In the steps:") {
			inSteps = true
			if !stepUse.MatchString(line) {
				uses = append(uses, [2]string{strings.TrimSpace(line), ""})
			}
		} else if strings.TrimSpace(line) == "" {
			inSteps = false
		}
		if !inSteps {
			continue
		}
		for _, m := range stepUse.FindAllStringSubmatch(line, -1) {
			if m[2] != m[3] {
				uses = append(uses, [2]string{m[1], m[2] + " links to " + m[3]})
				continue
			}
			uses = append(uses, [2]string{m[1], m[3]})
		}
	}
	return uses
}

// TestPythonPageNamesWhatTheStepsUse keeps docs/python-to-go.md honest:
// every section says where a step uses its idiom, and every idiom it names
// is in that step's file, as the attendee gets it or as the solution writes
// it (an idiom of a task is in the solution only).
func TestPythonPageNamesWhatTheStepsUse(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	page, err := os.ReadFile(filepath.Join(root, pythonPage))
	if err != nil {
		t.Fatal(err)
	}
	sections := strings.Count(string(page), "\n## ")
	lines := strings.Count(string(page), "\nIn the steps:")
	if sections == 0 || lines != sections {
		t.Errorf("%s has %d sections and %d \"In the steps:\" lines; every section needs one", pythonPage, sections, lines)
	}
	uses := pageUses(string(page))
	if len(uses) < sections {
		t.Fatalf("%s names %d places in the steps, fewer than its %d sections", pythonPage, len(uses), sections)
	}
	for _, u := range uses {
		token, file := u[0], u[1]
		if !strings.HasPrefix(file, "step0") {
			t.Errorf("%s: %q names no step file (%q)", pythonPage, token, file)
			continue
		}
		exercise, errE := os.ReadFile(filepath.Join(root, file))
		solution, errS := os.ReadFile(filepath.Join(root, "solutions", file))
		if errE != nil {
			t.Errorf("%s links to %s, which is not there: %v", pythonPage, file, errE)
			continue
		}
		if !strings.Contains(string(exercise), token) && (errS != nil || !strings.Contains(string(solution), token)) {
			t.Errorf("%s says that %s uses %q, but neither it nor its solution does: change the page, or its token", pythonPage, file, token)
		}
	}
}

func TestPageUses(t *testing.T) {
	page := "## A\n\nIn the steps: `a := 1` in [step01-x/a.go](../step01-x/a.go),\n" +
		"`b` in [step02-y/b.go](../step02-y/c.go).\n\n" +
		"In the steps: nowhere.\n\n`c` in [step03-z/c.go](../step03-z/c.go)\n"
	got := pageUses(page)
	want := [][2]string{
		{"a := 1", "step01-x/a.go"},
		{"b", "step02-y/b.go links to step02-y/c.go"},
		{"In the steps: nowhere.", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("pageUses = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pageUses[%d] = %q, want %q", i, got[i], want[i])
		}
	}
}

// githubAnchor is the anchor GitHub gives a heading: lower case, without
// punctuation, spaces as hyphens.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// pageLink matches a link from a step's README to the Python page.
var pageLink = regexp.MustCompile(`\]\(\.\./docs/python-to-go\.md(?:#([^)]*))?\)`)

// TestEveryStepHasItsPythonBox: each step's README has its "If you know
// Python" box, linking to sections of docs/python-to-go.md that exist;
// the top README links the page too.
func TestEveryStepHasItsPythonBox(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	page, err := os.ReadFile(filepath.Join(root, pythonPage))
	if err != nil {
		t.Fatal(err)
	}
	anchors := make(map[string]bool)
	for line := range strings.Lines(string(page)) {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[githubAnchor(strings.TrimSpace(h))] = true
		}
	}
	for _, s := range steps {
		readme, err := os.ReadFile(filepath.Join(root, s.Dir, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), "> **If you know Python.**") {
			t.Errorf("%s/README.md has no \"If you know Python\" box", s.Dir)
		}
		links := pageLink.FindAllStringSubmatch(string(readme), -1)
		if len(links) == 0 {
			t.Errorf("%s/README.md does not link to %s", s.Dir, pythonPage)
		}
		for _, l := range links {
			if l[1] != "" && !anchors[l[1]] {
				t.Errorf("%s/README.md links to %s#%s, which has no such section", s.Dir, pythonPage, l[1])
			}
		}
	}
	top, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(top), "]("+pythonPage+")") {
		t.Errorf("README.md does not link to %s", pythonPage)
	}
}

func TestGithubAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"Declare or assign, and shadowing": "declare-or-assign-and-shadowing",
		"Mutex and atomic":                 "mutex-and-atomic",
		"`select` and asyncio":             "select-and-asyncio",
	} {
		if got := githubAnchor(heading); got != want {
			t.Errorf("githubAnchor(%q) = %q, want %q", heading, got, want)
		}
	}
}
