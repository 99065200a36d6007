package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const (
	beginMarker = "// BEGIN SOLUTION"
	stubMarker  = "// STUB"
	endMarker   = "// END SOLUTION"
)

// generateAll writes every exercise folder from its solution.
func generateAll(root string) error {
	for _, s := range steps {
		if noSolutions(root, s) {
			fmt.Printf("skipped %s: solutions/%s does not exist\n", s.Dir, s.Dir)
			continue
		}
		files, err := exerciseFiles(root, s)
		if err != nil {
			return err
		}
		dir := filepath.Join(root, s.Dir)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := writeFiles(dir, files); err != nil {
			return err
		}
		fmt.Printf("generated %s from solutions/%s (%d files)\n", s.Dir, s.Dir, len(files))
	}
	return nil
}

// exerciseFiles returns the exercise's files, by path relative to its
// folder, as generated from the solution, with their sums (sumsFile).
func exerciseFiles(root string, s Step) (map[string][]byte, error) {
	files, err := stepFiles(root, s, func(src []byte) ([]byte, error) {
		src, err := stripSolutions(src)
		if err != nil {
			return nil, err
		}
		// A solution block between two declarations leaves their blank
		// lines behind; gofmt's rules tidy them, so that an exercise is
		// as well formatted as its solution.
		return format.Source(src)
	})
	if err != nil {
		return nil, err
	}
	files[sumsFile] = sums(files)
	return files, nil
}

// sumsFile is the file of an exercise that lists its files as generated,
// with a SHA-256 of each: so make status can tell an exercise not started
// from one worked on, without the solution (a copy of the workshop may
// come without solutions/).
const sumsFile = ".generated"

// sums lists the files with their SHA-256, in sha256sum's format, sorted
// by path.
func sums(files map[string][]byte) []byte {
	var b bytes.Buffer
	b.WriteString("# make generate wrote this exercise; these are its files as generated,\n# so that make status can tell whether it was started. Do not edit.\n")
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if name != sumsFile {
			fmt.Fprintf(&b, "%x  %s\n", sha256.Sum256(files[name]), filepath.ToSlash(name))
		}
	}
	return b.Bytes()
}

// asGenerated reports whether the exercise in dir is as make generate
// wrote it: every file that its sumsFile lists is there unchanged, and
// there is no other. Without a sumsFile, nobody can tell: false.
func asGenerated(dir string) (bool, error) {
	listed, err := os.ReadFile(filepath.Join(dir, sumsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	files := make(map[string][]byte)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[rel] = data
		return err
	})
	if err != nil {
		return false, err
	}
	return bytes.Equal(sums(files), listed), nil
}

// solvedFiles returns the solution's files as they belong in the exercise
// folder: complete, with imports of the step's own packages moved there.
func solvedFiles(root string, s Step) (map[string][]byte, error) {
	return stepFiles(root, s, func(src []byte) ([]byte, error) { return src, nil })
}

// stepFiles reads the files of solutions/<step>, passes each Go file
// through edit, and moves imports of the step's own packages from
// solutions/<step>/... to <step>/..., where the exercise's packages are:
// an exercise stands on its own, in a clone without solutions/ too.
func stepFiles(root string, s Step, edit func([]byte) ([]byte, error)) (map[string][]byte, error) {
	module, err := modulePath(root)
	if err != nil {
		return nil, err
	}
	moved := strings.NewReplacer(
		`"`+module+`/solutions/`+s.Dir+`/`, `"`+module+`/`+s.Dir+`/`,
		`"`+module+`/solutions/`+s.Dir+`"`, `"`+module+`/`+s.Dir+`"`,
	)
	src := filepath.Join(root, "solutions", s.Dir)
	files := make(map[string][]byte)
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if strings.HasSuffix(path, ".go") {
			if data, err = edit(data); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			// Test files too: exercise and solution run the same tests,
			// each on its own packages.
			data = []byte(moved.Replace(string(data)))
		}
		files[rel] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read solutions/%s: %w", s.Dir, err)
	}
	return files, nil
}

// stripSolutions replaces each solution block by its stub.
func stripSolutions(src []byte) ([]byte, error) {
	var out bytes.Buffer
	const (
		outside = iota
		inSolution
		inStub
	)
	state := outside
	for i, line := range strings.SplitAfter(string(src), "\n") {
		marker := strings.TrimSpace(line)
		switch {
		case isBegin(marker):
			if state != outside {
				return nil, fmt.Errorf("line %d: %s inside a solution block", i+1, beginMarker)
			}
			state = inSolution
		case marker == stubMarker:
			if state != inSolution {
				return nil, fmt.Errorf("line %d: %s outside a solution block", i+1, stubMarker)
			}
			state = inStub
		case marker == endMarker:
			if state == outside {
				return nil, fmt.Errorf("line %d: %s without %s", i+1, endMarker, beginMarker)
			}
			state = outside
		case state == outside:
			out.WriteString(line)
		case state == inStub:
			out.WriteString(uncomment(line))
		}
	}
	if state != outside {
		return nil, fmt.Errorf("a solution block has no %s", endMarker)
	}
	return out.Bytes(), nil
}

// uncomment removes the first "// " of a stub line, keeping its indent; a
// bare "//" becomes an empty line.
func uncomment(line string) string {
	indent := len(line) - len(strings.TrimLeft(line, " \t"))
	rest := line[indent:]
	switch {
	case strings.HasPrefix(rest, "// "):
		return line[:indent] + rest[3:]
	case strings.TrimSpace(rest) == "//":
		return "\n" // no indent left dangling at the end of an empty line
	case strings.HasPrefix(rest, "//"):
		return line[:indent] + rest[2:]
	}
	return line
}

// modulePath reads the module's path from go.mod.
func modulePath(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "module "); ok {
			return strings.TrimSpace(rest), nil
		}
	}
	return "", fmt.Errorf("go.mod has no module line")
}

// solve writes the solution of one step into its exercise folder, so that
// an attendee who fell behind can go on from there. Files the attendee
// added stay; files of the step are overwritten.
func solve(root, dir string) error {
	for _, s := range steps {
		if s.Dir != dir {
			continue
		}
		if noSolutions(root, s) {
			return fmt.Errorf("cannot catch up with %s: its solution, solutions/%s, is not in this copy of the workshop. Ask the presenter for it, or copy solutions/ from the workshop's repository", s.Dir, s.Dir)
		}
		files, err := solvedFiles(root, s)
		if err != nil {
			return err
		}
		if err := writeFiles(filepath.Join(root, s.Dir), files); err != nil {
			return err
		}
		fmt.Printf("wrote the solution of %s into %s (%d files)\n", s.Dir, s.Dir, len(files))
		return nil
	}
	var names []string
	for _, s := range steps {
		names = append(names, s.Dir)
	}
	return fmt.Errorf("no step is called %q; the steps are %s", dir, strings.Join(names, ", "))
}

// writeFiles writes files, by path relative to dir, into dir.
func writeFiles(dir string, files map[string][]byte) error {
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
