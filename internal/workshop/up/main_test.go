package main

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/hive-workshop/microservices-go/internal/broker"
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

// fakeDocker is a docker command with the compose plugin and an engine,
// that writes each command line it gets to a log file, whose path it
// returns. compose ps -q prints ps.
func fakeDocker(t *testing.T, ps string) string {
	t.Helper()
	log := filepath.Join(t.TempDir(), "docker.log")
	fakePath(t, map[string]string{"docker": `echo "$*" >>` + log + `
if [ "$1 $2" = "compose ps" ]; then printf '%s' '` + ps + `'; fi`})
	return log
}

// commands returns the command lines that fakeDocker logged.
func commands(t *testing.T, log string) string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// probe returns a probe that answers states in turn, then the last one
// for ever.
func probe(states ...broker.State) func(context.Context) broker.Status {
	return func(context.Context) broker.Status {
		s := states[0]
		if len(states) > 1 {
			states = states[1:]
		}
		return broker.Status{State: s, Detail: "it says " + s.String()}
	}
}

func testService(name string, p func(context.Context) broker.Status, published ...string) service {
	return service{name: name, broker: "Broker " + name, where: "127.0.0.1:1", published: published, probe: p}
}

// TestStartWithBrokersThatAlreadyServe: brokers that already run, say
// installed natively, leave nothing to start, so make up succeeds even
// on a machine without Docker, instead of telling a ready attendee that
// it "cannot start RabbitMQ and ZooKeeper".
func TestStartWithBrokersThatAlreadyServe(t *testing.T) {
	fakePath(t, nil) // no docker at all

	var out strings.Builder
	svcs := []service{testService("a", probe(broker.Ready)), testService("b", probe(broker.Ready))}
	if err := start(t.Context(), &out, svcs); err != nil {
		t.Fatalf("start with the brokers already serving = %v, want nil", err)
	}
	if !strings.Contains(out.String(), "already serves on 127.0.0.1:1: nothing to start") {
		t.Errorf("start does not say that the brokers already serve:\n%s", out.String())
	}

	out.Reset()
	err := start(t.Context(), &out, []service{testService("a", probe(broker.Closed))})
	if err == nil || !strings.Contains(err.Error(), "docker command is not installed") {
		t.Errorf("start without brokers and without docker = %v, want the error that says docker is missing", err)
	}
}

// TestStartStartsOnlyWhatIsMissing: a RabbitMQ of the machine's own
// stays, and compose starts ZooKeeper alone (else compose would fail to
// publish RabbitMQ's port, which the machine's RabbitMQ holds).
func TestStartStartsOnlyWhatIsMissing(t *testing.T) {
	log := fakeDocker(t, "")
	svcs := []service{testService("rabbitmq", probe(broker.Ready)), testService("zookeeper", probe(broker.Closed, broker.Ready))}
	if err := start(t.Context(), io.Discard, svcs); err != nil {
		t.Fatal(err)
	}
	if got := commands(t, log); !strings.Contains(got, "compose up -d --wait zookeeper\n") {
		t.Errorf("docker got:\n%s\nwant compose up -d --wait zookeeper", got)
	}
}

// TestStartWaitsUntilTheBrokersServe: compose's "healthy", or with
// docker-compose v1 an open port, is not enough: Docker's port
// forwarding accepts connections before the broker in the container does.
// make up returns once the probes say that the brokers serve clients,
// and fails, saying what the broker did, if they never do.
func TestStartWaitsUntilTheBrokersServe(t *testing.T) {
	for _, compose := range []string{"plugin", "docker-compose v1"} {
		t.Run(compose, func(t *testing.T) {
			fakeDocker(t, "")
			if compose != "plugin" {
				t.Chdir("../../..") // where make runs it, next to docker-compose.yml
				fakePath(t, map[string]string{"docker": noPlugin, "docker-compose": "exit 0"})
			}
			var out strings.Builder
			svcs := []service{testService("zookeeper", probe(broker.Closed, broker.Silent, broker.Starting, broker.Ready))}
			if err := start(t.Context(), &out, svcs); err != nil || !strings.Contains(out.String(), "serves clients on") {
				t.Fatalf("start = %v, want nil once the broker serves; it said:\n%s", err, out.String())
			}

			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			err := start(ctx, io.Discard, []service{testService("zookeeper", probe(broker.Silent))})
			if err == nil || !strings.Contains(err.Error(), "does not serve clients") || !strings.Contains(err.Error(), "it says silent") ||
				!strings.Contains(err.Error(), "logs zookeeper") {
				t.Errorf("start with a broker that never serves = %v, want an error that says so, what it did, and where its logs are", err)
			}
		})
	}
}

// TestComposeV1ReadsTheFile: docker-compose v1 refuses docker-compose.yml's
// top-level name (Compose v2 added it: "'name' does not match any of the
// regexes: '^x-'", on Debian's docker-compose 1.29.2); it gets the file
// without it, and the same project name with -p.
func TestComposeV1ReadsTheFile(t *testing.T) {
	t.Chdir("../../..")
	log := filepath.Join(t.TempDir(), "compose.log")
	fakePath(t, map[string]string{"docker": noPlugin, "docker-compose": `echo "$*" >>` + log + `; while IFS= read -r l; do echo "$l"; done >>` + log})
	if err := run(t.Context(), []string{"docker-compose"}, "up", "-d", "zookeeper"); err != nil {
		t.Fatal(err)
	}
	got := commands(t, log)
	if !strings.HasPrefix(got, "-p hive-workshop -f - up -d zookeeper\n") {
		t.Errorf("docker-compose got the arguments %q, want the project's name and the file on stdin", strings.SplitN(got, "\n", 2)[0])
	}
	if strings.Contains(got, "\nname:") || !strings.Contains(got, "\nservices:\n") {
		t.Errorf("docker-compose read, on stdin:\n%s\nwant docker-compose.yml without its name: line", got)
	}
}

// TestStartNamesTheProgramOnATakenPort: a port that another program
// holds stops make up before anything starts, naming the program (here,
// this test), instead of compose's "bind: address already in use" after
// it started the other broker.
func TestStartNamesTheProgramOnATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	log := fakeDocker(t, "")
	for _, tool := range []string{"ss", "lsof"} { // to name the owner
		if p, err := exec.LookPath(tool); err == nil {
			os.Symlink(p, filepath.Join(os.Getenv("PATH"), tool))
		}
	}
	svcs := []service{testService("rabbitmq", probe(broker.Closed), l.Addr().String())}
	err = start(t.Context(), io.Discard, svcs)
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()+", which Broker rabbitmq needs, is taken by") {
		t.Fatalf("start with a taken port = %v, want an error naming the port", err)
	}
	if owner := broker.Owner(t.Context(), l.Addr().String()); owner != "" && !strings.Contains(err.Error(), owner) {
		t.Errorf("the error does not name the port's owner, %s:\n%v", owner, err)
	}
	if got := commands(t, log); strings.Contains(got, "compose up") {
		t.Errorf("compose up ran although a port is taken:\n%s", got)
	}

}

// TestStopRemovesTheVolumes: make down removes the containers' volumes
// too, or each make up and make down leaves the images' data volumes
// behind.
func TestStopRemovesTheVolumes(t *testing.T) {
	log := fakeDocker(t, "")
	if err := stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := commands(t, log); !strings.Contains(got, "compose down -v\n") {
		t.Errorf("docker got:\n%s\nwant compose down -v", got)
	}
}

// TestStopRemovesWhatTheTestsLeft: containers that brokertest started
// and Ryuk could not remove go with make down too.
func TestStopRemovesWhatTheTestsLeft(t *testing.T) {
	log := fakeDocker(t, "")
	fakePath(t, map[string]string{"docker": `echo "$*" >>` + log + `; if [ "$1" = ps ]; then echo a1; echo b2; fi`})
	if err := stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := commands(t, log); !strings.Contains(got, "ps -aq --filter label="+broker.ContainerLabel+"\nrm -f -v a1 b2\n") {
		t.Errorf("docker got:\n%s\nwant the labelled containers removed", got)
	}
}

// TestPullPullsEveryImage: make pull downloads the brokers' images and
// the image of testcontainers-go's reaper, which every test that starts
// a container needs first.
func TestPullPullsEveryImage(t *testing.T) {
	log := fakeDocker(t, "")
	if err := pull(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := commands(t, log)
	for _, want := range []string{"compose pull\n", "pull " + ryukImage + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("docker got:\n%s\nwant %q", got, want)
		}
	}
	if ryukImage != testcontainers.ReaperDefaultImage {
		t.Errorf("make pull pulls %s, but testcontainers-go starts %s", ryukImage, testcontainers.ReaperDefaultImage)
	}
}
