package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hive.yml")
	require.NoError(t, os.WriteFile(path, []byte(`
# hive.yml: which services to run, and how many of each.
env:
  HIVE_NAMESPACE: demo
services:
  menu:
    command: [go, run, ./step05-beehive/menu]
    instances: 2
    env: {MENU_DELAY: 50ms, PORT: 8080, DEBUG: true}
  order:
    command:
      - ./bin/order
  kitchen:
    command: [./bin/kitchen]
    instances: {min: 2, max: 6, queue: order.placed, cool_down: 1m}
  menu2:
    command: [./bin/menu]
    instances: {min: 1, max: 3, in_flight: 4}
`), 0o644))

	cfg, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, Config{
		Env: map[string]string{"HIVE_NAMESPACE": "demo"},
		Services: []Service{
			{
				Name:      "menu",
				Command:   []string{"go", "run", "./step05-beehive/menu"},
				Instances: 2,
				Env:       map[string]string{"MENU_DELAY": "50ms", "PORT": "8080", "DEBUG": "true"},
			},
			{Name: "order", Command: []string{"./bin/order"}, Instances: 1}, // one unless told
			{Name: "kitchen", Command: []string{"./bin/kitchen"}, Instances: 2, // its min to start with
				Scale: &Scale{Min: 2, Max: 6, Queue: "order.placed", PerBee: DefaultPerBee, CoolDown: time.Minute}},
			{Name: "menu2", Command: []string{"./bin/menu"}, Instances: 1,
				Scale: &Scale{Min: 1, Max: 3, InFlight: 4, PerBee: DefaultPerBee, CoolDown: DefaultCoolDown}},
		},
	}, cfg)
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("no-such-hive.yml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no-such-hive.yml")
}

// Every mistake is reported with the file, the line and the key, and says
// what would be right.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"empty", ``, []string{"hive.yml: the file is empty"}},
		{"not yaml", "services: [", []string{"hive.yml: yaml:"}},
		{"unknown top key", "servises:\n  menu: {command: [x]}\n", []string{"hive.yml:1:", `unknown key "servises"`, "env, services"}},
		{"no services", "env: {A: b}\n", []string{"hive.yml:1:", "services: missing"}},
		{"empty services", "services: {}\n", []string{"hive.yml:1:", "services: none given"}},
		{"services not a mapping", "services: menu\n", []string{"hive.yml:1:", "services: want keys and values"}},
		{"unknown service key", "services:\n  menu:\n    command: [x]\n    instance: 2\n", []string{"hive.yml:4:", "services.menu", `unknown key "instance"`}},
		{"missing command", "services:\n  menu:\n    instances: 2\n", []string{"hive.yml:2:", "services.menu: command is missing"}},
		{"command a string", "services:\n  menu:\n    command: go run .\n", []string{"hive.yml:3:", "services.menu.command: want a list"}},
		{"empty command", "services:\n  menu: {command: []}\n", []string{"hive.yml:2:", "services.menu.command: want a list"}},
		{"zero instances", "services:\n  menu:\n    command: [x]\n    instances: 0\n", []string{"hive.yml:4:", "services.menu.instances", "at least 1", `"0"`}},
		{"instances not a number", "services:\n  menu: {command: [x], instances: two}\n", []string{"hive.yml:2:", "services.menu.instances", `"two"`}},
		{"no max", "services:\n  menu:\n    command: [x]\n    instances: {min: 1}\n", []string{"hive.yml:4:", "services.menu.instances: max is missing"}},
		{"max below min", "services:\n  menu:\n    command: [x]\n    instances: {min: 3, max: 2}\n", []string{"hive.yml:4:", "max (2) is less than min (3)"}},
		{"zero min", "services:\n  menu:\n    command: [x]\n    instances: {min: 0, max: 2}\n", []string{"hive.yml:4:", "services.menu.instances.min", "at least 1"}},
		{"misspelt scale key", "services:\n  menu:\n    command: [x]\n    instances: {min: 1, max: 2, cooldown: 3s}\n", []string{"hive.yml:4:", `unknown key "cooldown"`, "cool_down"}},
		{"queue and in_flight", "services:\n  menu:\n    command: [x]\n    instances: {min: 1, max: 2, queue: a, in_flight: 4}\n", []string{"hive.yml:4:", "queue and in_flight both given"}},
		{"per_bee without queue", "services:\n  menu:\n    command: [x]\n    instances: {min: 1, max: 2, per_bee: 4}\n", []string{"hive.yml:4:", "per_bee", "needs queue"}},
		{"bad cool-down", "services:\n  menu:\n    command: [x]\n    instances: {min: 1, max: 2, cool_down: soon}\n", []string{"hive.yml:4:", "cool_down: want a duration", `"soon"`}},
		{"env value a list", "services:\n  menu:\n    command: [x]\n    env:\n      A: [1, 2]\n", []string{"hive.yml:5:", "services.menu.env.A: want a plain value"}},
		{"service twice", "services:\n  menu: {command: [x]}\n  menu: {command: [y]}\n", []string{"hive.yml:3:", `"menu" appears twice`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("hive.yml", []byte(tc.yaml))
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
			assert.False(t, strings.Contains(err.Error(), "node."), "the error shows Go type names: %v", err)
		})
	}
}
