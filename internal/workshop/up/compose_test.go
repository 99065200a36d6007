package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hive-workshop/microservices-go/hive/env"
)

// composeFile is the part of a compose file that the workshop relies on.
type composeFile struct {
	Services map[string]struct {
		Image       string
		Ports       []string
		Healthcheck struct {
			Test []string
		}
	}
}

func readCompose(t *testing.T, path string) composeFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// TestComposeFile: docker-compose.yml publishes what make up checks
// before it starts anything, on 127.0.0.1 only, and its health checks
// prove that each broker serves clients, not only that its process runs
// (compose's --wait trusts them).
func TestComposeFile(t *testing.T) {
	s, err := env.Read()
	if err != nil {
		t.Fatal(err)
	}
	c := readCompose(t, "../../../docker-compose.yml")
	healthy := map[string][]string{
		"rabbitmq":  {"rabbitmq-diagnostics", "check_port_connectivity"},
		"zookeeper": {"srvr", "Mode: "},
	}
	for _, svc := range services(s) {
		got, ok := c.Services[svc.name]
		if !ok {
			t.Errorf("docker-compose.yml has no service %q", svc.name)
			continue
		}
		var published []string
		for _, p := range got.Ports {
			hostPort, _, _ := strings.Cut(strings.TrimSpace(p), "->")
			i := strings.LastIndex(hostPort, ":")
			published = append(published, hostPort[:i])
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %q, want it on 127.0.0.1 only", svc.name, p)
			}
		}
		if !slices.Equal(published, svc.published) {
			t.Errorf("%s publishes %q, but make up checks %q", svc.name, published, svc.published)
		}
		test := strings.Join(got.Healthcheck.Test, " ")
		for _, want := range healthy[svc.name] {
			if !strings.Contains(test, want) {
				t.Errorf("%s's health check %q does not use %q, which proves that it serves clients", svc.name, test, want)
			}
		}
	}
}
