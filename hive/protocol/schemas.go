package protocol

import (
	"bytes"
	"embed"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The file names of the schemas, for Schema.
const (
	RecordSchema = "registry-record.schema.json"
	ErrorSchema  = "error.schema.json"
	EventSchema  = "event.schema.json"
)

//go:embed *.schema.json
var schemaFiles embed.FS

// Schema compiles one of the package's schemas (RecordSchema, ErrorSchema,
// EventSchema), with formats such as date-time asserted, as a program that
// checks a peer's documents needs them.
func Schema(name string) (*jsonschema.Schema, error) {
	data, err := schemaFiles.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("protocol: no schema %s: %w", name, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("protocol: schema %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, doc); err != nil {
		return nil, fmt.Errorf("protocol: schema %s: %w", name, err)
	}
	return c.Compile(name)
}

// Validate checks the JSON document data against the schema sch.
func Validate(sch *jsonschema.Schema, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(v)
}
