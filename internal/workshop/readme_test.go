// Package workshop holds the workshop's own tools, in folders of their own:
// doctor (make doctor), exercises (make generate, check-exercises, status,
// and in a step folder make test, further, watch and hint: step.mk)
// and demo (make demo). This file keeps the READMEs honest: the top
// README's service builds, and no README's code scrolls sideways.
package workshop

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestREADMEServiceBuilds builds the complete service that the README shows
// in "hive in one screen", so that the README cannot drift from hive's API.
func TestREADMEServiceBuilds(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```go\n(package main\n.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```go block with a complete program (package main)")
	}

	// An overlay lets go build see the example as a file inside the module,
	// without writing into the repository.
	dir := t.TempDir()
	example := filepath.Join(dir, "main.go")
	if err := os.WriteFile(example, m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	fake, _ := filepath.Abs("readme_example/main.go")
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{fake: example}})
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-overlay", overlayFile, "-o", os.DevNull, "./readme_example")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the service in README.md (\"hive in one screen\") does not build: %v\n%s", err, out)
	}
}

// codeBlockColumns is the widest line a code block in the repository's
// Markdown may have. GitHub shows a README in a column of 888 pixels,
// whose code font fits about 100 columns; a wider line scrolls sideways,
// and on a laptop or a projector the reader loses its end.
const codeBlockColumns = 90

// TestMarkdownCodeBlocksFit checks that no line of a fenced code block in
// the repository's Markdown (the top README, the steps' and the
// solutions', docs/, PROTOCOL.md) is wider than codeBlockColumns. A tab
// counts 8 columns, as a browser shows it.
func TestMarkdownCodeBlocksFit(t *testing.T) {
	files := markdownFiles(t, "../..")
	if len(files) < 3 {
		t.Fatalf("found only %d Markdown files: %q", len(files), files)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range wideCodeLines(string(data), codeBlockColumns) {
			t.Errorf("%s:%d: a line of code of %d columns, wider than %d: break it, or say it in the text around the block",
				file, l.number, l.columns, codeBlockColumns)
		}
	}
}

// TestWideCodeLines checks wideCodeLines on a small document.
func TestWideCodeLines(t *testing.T) {
	wide := strings.Repeat("x", 11)
	doc := "text " + wide + "\n" + // text may be wide
		"```sh\n" + wide + "\n" + "\t" + "xxx" + "\n```\n" +
		"   ~~~\n" + strings.Repeat("y", 10) + "\n   ~~~\n" +
		"- a list\n\n  ```\n  " + wide + "\n  ```\n"
	got := wideCodeLines(doc, 10)
	want := []codeLine{{3, 11}, {4, 11}, {12, 13}}
	if !slices.Equal(got, want) {
		t.Errorf("wideCodeLines = %v, want %v", got, want)
	}
}

// markdownFiles returns the repository's Markdown files under root,
// leaving out what is not the workshop's own (node_modules) or not shown
// (.git, testdata).
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// A codeLine is a line of a code block: its number in the file and its
// width.
type codeLine struct{ number, columns int }

// wideCodeLines returns the lines of doc's fenced code blocks (``` or
// ~~~, indented or not) that are wider than limit columns.
func wideCodeLines(doc string, limit int) []codeLine {
	var wide []codeLine
	fence := ""
	for i, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if fence == "" {
			if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
				fence = trimmed[:3]
			}
			continue
		}
		if strings.HasPrefix(trimmed, fence) {
			fence = ""
			continue
		}
		if w := utf8.RuneCountInString(strings.ReplaceAll(line, "\t", "        ")); w > limit {
			wide = append(wide, codeLine{i + 1, w})
		}
	}
	return wide
}
