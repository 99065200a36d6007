package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
		if _, err := os.Stat(filepath.Join(root, "solutions", s.Dir)); errors.Is(err, fs.ErrNotExist) {
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
		for name, data := range files {
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				return err
			}
		}
		fmt.Printf("generated %s from solutions/%s (%d files)\n", s.Dir, s.Dir, len(files))
	}
	return nil
}

// exerciseFiles returns the exercise's files, by path relative to its
// folder, as generated from the solution.
func exerciseFiles(root string, s Step) (map[string][]byte, error) {
	src := filepath.Join(root, "solutions", s.Dir)
	files := make(map[string][]byte)
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if strings.HasSuffix(path, ".go") {
			if data, err = stripSolutions(data); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
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
		case marker == beginMarker:
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
	case strings.HasPrefix(rest, "//"):
		return line[:indent] + rest[2:]
	}
	return line
}
