//go:build unix

package interop

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

// The peer matches versions as PROTOCOL.md says, which is what hive does:
// every range against every version, one answer each, from both; and it
// skips the records that hive skips for their version.
func TestPythonPeerMatchesVersionsAsHiveDoes(t *testing.T) {
	requirePython(t)
	ranges := []string{"", "  ", "^1", "^1.4", "^1.4.2", "^v1", "~1", "~1.4", "~1.4.0", "1", "1.4", "1.4.0",
		"=1.4.0", "v1.4.0", ">=1.2.0 <2.0.0", ">1.2.0", ">1.4", "<=1.4", "<2", " ^1  <1.5 ", "^0.2", "~0.2.3",
		">=2.0.0-rc.2", "^2.0.0-rc.1", "~2.0.0-beta", "=2.0.0-rc.01", ">=2.0.0-rc.-1", ">=1.4.0+build.7 <=1.4.0",
		// not ranges: each fails on both sides
		"^x", "1.2.3.4", "^01", ">=", ">= 1.2.0", "latest", "1.x", "*", "1.0.0 || 2.0.0", "1.0.0 - 2.0.0", "^1.4-rc.1"}
	versions := []string{"", "dev", "py-1", "1.4", "v2", "0.2.3", "0.2.9", "0.3.0", "0.9.0", "1.0.0", "1.2.0",
		"1.4.0", "v1.4.0", "1.4.0+build.7", "1.4.1", "1.4.9", "1.5.0", "1.9.9", "2.0.0-rc.1", "2.0.0-rc.2",
		"2.0.0-rc.10", "2.0.0-rc.1.1", "2.0.0-rc.a", "2.0.0-rc.-2", "2.0.0-beta", "2.0.0-beta.2", "2.0.0-1",
		"2.0.0", "2.0.1"}

	// What hive says: "error" for a range it refuses, else whether each
	// version is in it; and under "usable", whether a record of each
	// version is one a caller can use.
	want := make(map[string]any)
	usable := make([]bool, len(versions))
	for i, v := range versions {
		usable[i] = registry.CheckVersion(v) == nil
	}
	want["usable"] = usable
	for _, r := range ranges {
		rng, err := registry.ParseRange(r)
		if err != nil {
			want[r] = "error"
			continue
		}
		in := make([]bool, len(versions))
		for i, v := range versions {
			in[i] = rng.Match(v)
		}
		want[r] = in
	}

	script := `
import json, sys
sys.path.insert(0, "python")
import pycounter
ranges, versions = json.load(sys.stdin)
out = {"usable": [pycounter.usable_version(v) for v in versions]}
for r in ranges:
    try:
        conds = pycounter.parse_range(r)
    except ValueError:
        out[r] = "error"
        continue
    out[r] = [pycounter.in_range(conds, v) for v in versions]
json.dump(out, sys.stdout)
`
	in, _ := json.Marshal([]any{ranges, versions})
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the peer's matching: %v\n%s", err, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the peer's matching: %v\n%s", err, out)
	}
	for _, r := range append(ranges, "usable") {
		w, _ := json.Marshal(want[r])
		g, _ := json.Marshal(got[r])
		if !bytes.Equal(w, g) {
			t.Errorf("range %q: hive says %s, the peer %s (for versions %q)", r, w, g, versions)
		}
	}
}
