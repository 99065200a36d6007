package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakePath makes a folder of shell scripts, name to body, and makes it
// the whole PATH, so that only these commands exist.
func fakePath(t *testing.T, scripts map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

// What the real docker CLI prints without the compose plugin, and without
// an engine.
const (
	noPlugin = `if [ "$1" = compose ]; then echo "docker: unknown command: docker compose" >&2; exit 1; fi`
	noEngine = `if [ "$1" = info ]; then echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1; fi`
)

func TestFindCompose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		scripts map[string]string
		want    []string // the command, or else
		wantErr []string // what the message must say
	}{
		{"no docker", nil, nil,
			[]string{"docker command is not installed", "Docker Compose is missing", "Without Docker", "https://docs.docker.com/get-docker/"}},
		{"no compose plugin", map[string]string{"docker": noPlugin}, nil,
			[]string{"Docker Compose is missing", "Install the Compose plugin", "Without Docker"}},
		{"no engine", map[string]string{"docker": noEngine}, nil,
			[]string{"engine does not answer (Cannot connect", "systemctl start docker", "Without Docker"}},
		{"permission denied", map[string]string{"docker": `[ "$1" = info ] && { echo "permission denied while trying to connect" >&2; exit 1; }; exit 0`}, nil,
			[]string{"permission denied", "usermod"}},
		{"plugin", map[string]string{"docker": "exit 0"}, []string{"docker", "compose"}, nil},
		{"docker-compose v1", map[string]string{"docker": noPlugin, "docker-compose": "exit 0"}, []string{"docker-compose"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakePath(t, tc.scripts)
			got, err := findCompose(context.Background())
			if tc.want != nil {
				if err != nil || !slices.Equal(got, tc.want) {
					t.Fatalf("findCompose = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("findCompose = %q, want an error", got)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("the message does not say %q:\n%v", s, err)
				}
			}
		})
	}
}

// TestStartWithBrokersThatAlreadyAnswer: brokers that already run, say
// installed natively, leave nothing to start, so make up succeeds even
// on a machine without Docker, instead of telling a ready attendee that
// it "cannot start RabbitMQ and ZooKeeper".
func TestStartWithBrokersThatAlreadyAnswer(t *testing.T) {
	fakePath(t, nil) // no docker at all

	var out strings.Builder
	if err := start(context.Background(), &out, true); err != nil {
		t.Fatalf("start with the brokers already answering = %v, want nil", err)
	}
	if !strings.Contains(out.String(), "already answer: nothing to start") {
		t.Errorf("start does not say that the brokers already answer:\n%s", out.String())
	}

	out.Reset()
	err := start(context.Background(), &out, false)
	if err == nil || !strings.Contains(err.Error(), "docker command is not installed") {
		t.Errorf("start without brokers and without docker = %v, want the error that says docker is missing", err)
	}
}
