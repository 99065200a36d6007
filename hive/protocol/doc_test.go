package protocol_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/protocol"
)

// The document under test, from this package's folder.
const protocolFile = "../../PROTOCOL.md"

// examples returns the JSON examples of PROTOCOL.md by name: each is a
// ```json block right after a comment such as <!-- example: event -->.
func examples(t *testing.T) map[string]string {
	t.Helper()
	doc := readDoc(t)
	re := regexp.MustCompile("(?s)<!-- example: ([a-z-]+) -->\n```json\n(.*?)\n```")
	found := make(map[string]string)
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		require.NotContains(t, found, m[1], "PROTOCOL.md has two examples named %q", m[1])
		found[m[1]] = m[2]
	}
	return found
}

// example returns the example called name, and fails the test if
// PROTOCOL.md has none.
func example(t *testing.T, name string) string {
	t.Helper()
	ex, ok := examples(t)[name]
	require.True(t, ok, "PROTOCOL.md has no example %q (<!-- example: %s --> before a ```json block)", name, name)
	return ex
}

func readDoc(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(protocolFile)
	require.NoError(t, err)
	return string(doc)
}

// tableAfter returns the first column of the first table in PROTOCOL.md
// after the text marker: the names in backquotes that start its rows,
// and the second column of each.
func tableAfter(t *testing.T, marker string) (names, second []string) {
	t.Helper()
	doc := readDoc(t)
	i := strings.Index(doc, marker)
	require.GreaterOrEqual(t, i, 0, "PROTOCOL.md has no %q", marker)
	row := regexp.MustCompile("^\\| `([^`]+)` \\| ([^|]*)\\|")
	inTable := false
	for line := range strings.Lines(doc[i:]) {
		m := row.FindStringSubmatch(line)
		switch {
		case m != nil:
			inTable = true
			names = append(names, m[1])
			second = append(second, strings.TrimSpace(m[2]))
		case inTable && !strings.HasPrefix(line, "|"):
			return names, second
		}
	}
	return names, second
}

// schema compiles one of the package's schemas, with formats such as
// date-time asserted.
func schema(t *testing.T, file string) *jsonschema.Schema {
	t.Helper()
	sch, err := protocol.Schema(file)
	require.NoError(t, err)
	return sch
}

// schemaFields returns the properties a schema names at the top level.
func schemaFields(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(data, &s))
	return sorted(mapKeys(s.Properties))
}

// validate checks doc against sch.
func validate(t *testing.T, sch *jsonschema.Schema, doc string) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	require.NoError(t, err, "not JSON: %s", doc)
	return sch.Validate(v)
}

// decodeStrict decodes doc into v, and fails the test if doc has a field
// that v does not.
func decodeStrict(t *testing.T, doc string, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "hive's %T must decode it: %s", v, doc)
}

// keys returns the keys of a JSON object, sorted.
func keys(t *testing.T, doc string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(doc), &m), "not a JSON object: %s", doc)
	return sorted(mapKeys(m))
}

// jsonFields returns the names the JSON of a struct type has: its fields'
// json tags, without those it never writes ("-").
func jsonFields(v any) []string {
	var names []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		f := rt.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		names = append(names, tag)
	}
	return sorted(names)
}

func mapKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// sameFields asserts that every source lists the same field names.
func sameFields(t *testing.T, what string, sources map[string][]string) {
	t.Helper()
	var first string
	for name := range sources {
		if first == "" || name < first {
			first = name
		}
	}
	for name, fields := range sources {
		assert.Equal(t, sources[first], sorted(fields), "%s: the fields of %s and of %s differ; a wire format change must change PROTOCOL.md, the schema and hive together", what, first, name)
	}
}

// Every link of PROTOCOL.md to a file of the repository, or to one of its
// own sections, leads somewhere: a reader in another language has nothing
// else to go on.
func TestLinksLeadSomewhere(t *testing.T) {
	doc := readDoc(t)
	anchors := make(map[string]bool)
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(doc, -1) {
		anchors[anchor(m[1])] = true
	}
	for _, m := range regexp.MustCompile(`\]\(([^)]+)\)`).FindAllStringSubmatch(doc, -1) {
		target := m[1]
		switch {
		case strings.HasPrefix(target, "http://"), strings.HasPrefix(target, "https://"):
		case strings.HasPrefix(target, "#"):
			assert.True(t, anchors[target[1:]], "PROTOCOL.md links to #%s, which is no heading of it", target[1:])
		default:
			_, err := os.Stat("../../" + target)
			assert.NoError(t, err, "PROTOCOL.md links to %s", target)
		}
	}
}

// anchor returns the anchor GitHub gives a heading.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}
