package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hive-workshop/microservices-go/hive/env"
)

// composeSpec is the part of a compose file that the workshop relies on.
type composeSpec struct {
	Services map[string]struct {
		Image       string
		Ports       []string
		Environment map[string]string
		DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
		Healthcheck struct {
			Test []string
		}
	}
}

func readCompose(t *testing.T, path string) composeSpec {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c composeSpec
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

// TestDevcontainer: .devcontainer/ is read by the Dev Containers CLI in
// `make check-devcontainer`, which takes nearly anything (a missing comma,
// a service that does not exist); this test holds it to what the
// workshop needs: the brokers of docker-compose.yml started with the
// development container, healthy before it starts, and hive pointed at
// them by their service names.
func TestDevcontainer(t *testing.T) {
	b, err := os.ReadFile("../../../.devcontainer/devcontainer.json")
	if err != nil {
		t.Fatal(err)
	}
	// devcontainer.json is JSON with comments: here, only whole-line ones.
	var lines []string
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(strings.TrimSpace(line), "//") {
			lines = append(lines, line)
		}
	}
	var dc struct {
		DockerComposeFile []string
		Service           string
		RunServices       []string
		WorkspaceFolder   string
		ForwardPorts      []string
	}
	if err := json.Unmarshal([]byte(strings.Join(lines, "")), &dc); err != nil {
		t.Fatalf("devcontainer.json: %v", err)
	}

	services := map[string]bool{}
	for _, f := range dc.DockerComposeFile {
		c := readCompose(t, filepath.Join("../../../.devcontainer", f))
		for name, svc := range c.Services {
			services[name] = true
			for _, p := range svc.Ports {
				if !strings.HasPrefix(p, "127.0.0.1:") {
					t.Errorf("%s: %s publishes %q, want it on 127.0.0.1 only", f, name, p)
				}
			}
		}
	}
	for _, name := range append([]string{dc.Service}, dc.RunServices...) {
		if !services[name] {
			t.Errorf("devcontainer.json names the service %q, which its compose files %q lack", name, dc.DockerComposeFile)
		}
	}
	for _, p := range dc.ForwardPorts {
		if name, _, _ := strings.Cut(p, ":"); !services[name] {
			t.Errorf("devcontainer.json forwards %q of a service that its compose files lack", p)
		}
	}
	if dc.WorkspaceFolder == "" {
		t.Error("devcontainer.json has no workspaceFolder: the shell would not open in the repository")
	}

	dev := readCompose(t, "../../../.devcontainer/docker-compose.yml").Services[dc.Service]
	u, err := url.Parse(dev.Environment[env.AMQPURL])
	if err != nil || u.Host != "rabbitmq:5672" {
		t.Errorf("the development container's %s = %q, want RabbitMQ's service, rabbitmq:5672", env.AMQPURL, dev.Environment[env.AMQPURL])
	}
	if got := dev.Environment[env.ZooKeeper]; got != "zookeeper:2181" {
		t.Errorf("the development container's %s = %q, want ZooKeeper's service, zookeeper:2181", env.ZooKeeper, got)
	}
	for _, broker := range []string{"rabbitmq", "zookeeper"} {
		if got := dev.DependsOn[broker].Condition; got != "service_healthy" {
			t.Errorf("the development container starts when %s is %q, want service_healthy", broker, got)
		}
	}
}
