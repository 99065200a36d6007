// Package workshop holds the workshop's own tools, in folders of their own:
// doctor (make doctor), exercises (make generate, check-exercises, status,
// and in a step folder make test, further, watch and hint: step.mk)
// and demo (make demo). This file keeps the top-level README honest.
package workshop

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
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
