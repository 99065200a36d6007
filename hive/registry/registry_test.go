package registry_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

func TestValidateAcceptsHostPort(t *testing.T) {
	for _, endpoint := range []string{"127.0.0.1:8002", "localhost:1", "bee-7.local:65535", "[::1]:8002", "[::]:8002"} {
		inst := registry.Instance{ID: "menu-1", Service: "menu", Endpoint: endpoint}
		assert.NoError(t, inst.Validate(), "endpoint %q", endpoint)
	}
}

// A registry holds whatever anyone wrote into it; these are records a
// client must not call.
func TestValidateRejectsRecordsNoClientCanCall(t *testing.T) {
	bad := map[string]string{ // what is wrong: the record, as JSON
		"null":                `null`,
		"an empty object":     `{}`,
		"no ID":               `{"service":"menu","endpoint":"127.0.0.1:8002"}`,
		"no service":          `{"id":"menu-1","endpoint":"127.0.0.1:8002"}`,
		"no endpoint":         `{"id":"menu-1","service":"menu"}`,
		"a scheme":            `{"id":"menu-1","service":"menu","endpoint":"http://127.0.0.1:8002"}`,
		"another scheme":      `{"id":"menu-1","service":"menu","endpoint":"ftp://127.0.0.1:8002"}`,
		"a path":              `{"id":"menu-1","service":"menu","endpoint":"127.0.0.1:8002/admin"}`,
		"a query":             `{"id":"menu-1","service":"menu","endpoint":"127.0.0.1:8002?x=1"}`,
		"no host":             `{"id":"menu-1","service":"menu","endpoint":":8002"}`,
		"no port":             `{"id":"menu-1","service":"menu","endpoint":"127.0.0.1"}`,
		"an empty port":       `{"id":"menu-1","service":"menu","endpoint":"127.0.0.1:"}`,
		"port 0":              `{"id":"menu-1","service":"menu","endpoint":"127.0.0.1:0"}`,
		"a port above 65535":  `{"id":"menu-1","service":"menu","endpoint":"127.0.0.1:65536"}`,
		"a port that is text": `{"id":"menu-1","service":"menu","endpoint":"127.0.0.1:http"}`,
		"a user":              `{"id":"menu-1","service":"menu","endpoint":"me@127.0.0.1:8002"}`,
		"a / in the ID":       `{"id":"menu/1","service":"menu","endpoint":"127.0.0.1:8002"}`,
	}
	for what, record := range bad {
		var inst registry.Instance
		if err := json.Unmarshal([]byte(record), &inst); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		assert.Error(t, inst.Validate(), "a record with %s must be invalid: %s", what, record)
	}
}

func TestValidateSaysWhatIsWrong(t *testing.T) {
	for _, c := range []struct {
		inst registry.Instance
		want string
	}{
		{registry.Instance{}, "registry: an empty record (null or {}): no service, ID or endpoint"},
		{registry.Instance{ID: "menu-1", Service: "menu", Endpoint: "http://127.0.0.1:8002"},
			`registry: instance "menu-1": endpoint "http://127.0.0.1:8002": has a scheme: write host:port only, for example 127.0.0.1:8002`},
		{registry.Instance{ID: "menu-1", Service: "menu", Endpoint: "127.0.0.1:8002/x"},
			`registry: instance "menu-1": endpoint "127.0.0.1:8002/x": has a path: write host:port only, for example 127.0.0.1:8002`},
		{registry.Instance{ID: "menu-1", Service: "menu", Endpoint: "127.0.0.1:0"},
			`registry: instance "menu-1": endpoint "127.0.0.1:0": port "0" is not a number from 1 to 65535`},
	} {
		assert.EqualError(t, c.inst.Validate(), c.want)
	}
}
