package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hive-workshop/microservices-go/internal/broker"
	"github.com/hive-workshop/microservices-go/internal/broker/brokerfake"
)

// fakeServer listens on a free local port and answers every connection
// with reply, after reading what the client sends first.
func fakeServer(t *testing.T, reply string) string {
	return brokerfake.Server(t, brokerfake.Replies(reply))
}

// The first 11 bytes of RabbitMQ's connection.start frame.
const connectionStart = "\x01\x00\x00\x00\x00\x01\xf4\x00\x0a\x00\x0a"

func rabbitMQ(addr string) func(context.Context) broker.Status {
	return func(ctx context.Context) broker.Status { return broker.RabbitMQ(ctx, "amqp://guest:guest@"+addr+"/") }
}

func zooKeeper(addr string) func(context.Context) broker.Status {
	return func(ctx context.Context) broker.Status { return broker.ZooKeeper(ctx, addr) }
}

// says returns a probe that finds state.
func says(state broker.State) func(context.Context) broker.Status {
	return func(context.Context) broker.Status {
		return broker.Status{State: state, Detail: "it is " + state.String()}
	}
}

func TestCheckBroker(t *testing.T) {
	taken := fakeServer(t, "")
	for _, tc := range []struct {
		name   string
		addr   string
		probe  func(context.Context) broker.Status
		extra  []string
		wantOK bool
		want   []string
	}{
		{"rabbitmq serves", "127.0.0.1:5672", says(broker.Ready), nil, true, []string{"answers on"}},
		{"zookeeper answers", "", zooKeeper(fakeServer(t, "Zookeeper version: 3.9.3\nMode: standalone\n")), nil, true, []string{"answers on"}},
		{"zookeeper refuses srvr", "", zooKeeper(fakeServer(t, "srvr is not executed because it is not in the whitelist.\n")), nil, true, []string{"answers on"}},
		{"zookeeper still starting", "", zooKeeper(fakeServer(t, "This ZooKeeper instance is not currently serving requests\n")), nil, false, []string{"still starting"}},
		{"rabbitmq refuses the login", "127.0.0.1:5672", says(broker.Refused), nil, false, []string{"refuses the login"}},
		{"rabbitmq's certificate untrusted", "127.0.0.1:5671", says(broker.Untrusted), nil, false, []string{"speaks TLS, but it is untrusted"}},
		{"http server on the amqp port", "", rabbitMQ(fakeServer(t, "HTTP/1.1 400 Bad Request\r\n\r\n")), nil, false, []string{"something that is not", `"HTTP/1.1 40`}},
		{"http server on the zookeeper port", "", zooKeeper(fakeServer(t, "HTTP/1.1 400 Bad Request\r\n\r\n")), nil, false, []string{"something that is not"}},
		// A silent port: the broker still starting behind Docker's port
		// forwarding, where the system does not say who holds the port
		// (here: a silent port whose owner is unknown).
		{"a broker still starting", brokerfake.FreeAddr(t), says(broker.Silent), nil, false, []string{"still starting"}},
		{"nothing there, ports free", brokerfake.FreeAddr(t), says(broker.Closed), []string{brokerfake.FreeAddr(t)}, false, []string{"so `make up` can start it"}},
		{"nothing there, extra port taken", brokerfake.FreeAddr(t), says(broker.Closed), []string{taken}, false, []string{taken + " is taken"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := checkBroker("Broker", tc.addr, "", tc.probe, tc.extra...)
			for _, want := range tc.want {
				if c.ok != tc.wantOK || !strings.Contains(c.what, want) {
					t.Errorf("checkBroker = %+v, want ok=%v and %q", c, tc.wantOK, want)
				}
			}
			if !c.ok && c.hint == "" {
				t.Errorf("checkBroker = %+v: a ✗ without a hint", c)
			}
		})
	}
}

// TestCheckBrokerStillStarting: a port that accepts connections and
// closes them without a word is Docker's port forwarding in front of a
// RabbitMQ that is still starting: the doctor says to wait, not to stop
// "something that is not RabbitMQ". A program of someone else's on a
// silent port is named instead, when the system says who holds it.
func TestCheckBrokerStillStarting(t *testing.T) {
	silent := fakeServer(t, "")
	owner := broker.Owner(context.Background(), silent) // this test, as far as ss or lsof see
	c := checkBroker("RabbitMQ", silent, "", rabbitMQ(silent))
	switch {
	case owner == "":
		if c.ok || !strings.Contains(c.what, "still starting") || !strings.Contains(c.hint, "Wait a few seconds") {
			t.Errorf("checkBroker on a silent port = %+v, want \"still starting\" and a hint to wait", c)
		}
	case !strings.Contains(c.what, "something that is not RabbitMQ") || !strings.Contains(c.hint, "Stop "+owner):
		t.Errorf("checkBroker on a port that %s holds = %+v, want it named as something that is not RabbitMQ", owner, c)
	}
}

// TestCheckDockerAcceptsComposeV1: make up runs docker-compose v1 when the
// plugin is missing, so the doctor must not call Compose missing then.
func TestCheckDockerAcceptsComposeV1(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"docker":         `if [ "$1" = compose ]; then echo "docker: unknown command: docker compose" >&2; exit 1; fi; echo 28.2.2`,
		"docker-compose": `echo 1.29.2`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	checks := checkDocker(false)
	for _, c := range checks {
		if !c.ok {
			t.Errorf("checkDocker with docker-compose v1: %+v, want every line ✓", c)
		}
	}
	if len(checks) == 0 || !strings.Contains(checks[0].what, "docker-compose") {
		t.Errorf("checkDocker = %+v, want a line that names docker-compose", checks)
	}
}

func TestGoModVersion(t *testing.T) {
	// The tests run in this package's folder; go.mod is three folders up.
	v, err := goModVersion()
	if err != nil || !strings.HasPrefix(v, "1.") {
		t.Errorf("goModVersion = %q, %v; want a version like 1.26", v, err)
	}
	if c := checkGo(); !c.ok {
		t.Errorf("checkGo = %+v, want ok: this very test runs on a Go that builds the module", c)
	}
}

func TestCheckManagementUI(t *testing.T) {
	if c := checkManagementUI(fakeServer(t, "")); !c.ok {
		t.Errorf("checkManagementUI with a listener = %+v, want ok", c)
	}
	c := checkManagementUI(brokerfake.FreeAddr(t))
	if c.ok || !strings.Contains(c.what, "management plugin") || !strings.Contains(c.hint, "rabbitmqctl list_queues") {
		t.Errorf("checkManagementUI with nothing there = %+v, want ✗ naming the plugin, with rabbitmqctl in the hint", c)
	}
}

// TestCheckRabbitMQList: HIVE_AMQP_URL may name a cluster's nodes,
// comma-separated, as hive takes them; the doctor probes each and gives
// each a line, so that a node that is down shows beside one that answers.
func TestCheckRabbitMQList(t *testing.T) {
	other := fakeServer(t, "HTTP/1.1 400 Bad Request\r\n\r\n")
	free := brokerfake.FreeAddr(t)
	t.Setenv("HIVE_AMQP_URL", "amqp://guest:guest@"+other+"/, amqp://guest:guest@"+free+"/,not a url")
	checks := checkRabbitMQ()
	if len(checks) != 3 {
		t.Fatalf("checkRabbitMQ with 3 URLs = %+v, want a line for each", checks)
	}
	for i, want := range []string{
		"something that is not RabbitMQ answers on " + other + " (1 of 3 in HIVE_AMQP_URL)",
		"nothing answers on " + free + " (2 of 3 in HIVE_AMQP_URL)",
		"not a URL (3 of 3 in HIVE_AMQP_URL)",
	} {
		if c := checks[i]; c.ok || !strings.Contains(c.what, want) || c.hint == "" {
			t.Errorf("line %d = %+v, want ✗ with %q and a hint", i+1, c, want)
		}
	}
	if strings.Contains(checks[2].what, "not a url") {
		t.Errorf("line 3 = %q: it quotes the URL, which may hold a password", checks[2].what)
	}
}

// TestCheckRabbitMQCA: a HIVE_AMQP_CA that hive would refuse, the doctor
// refuses too, saying why.
func TestCheckRabbitMQCA(t *testing.T) {
	t.Setenv("HIVE_AMQP_URL", "amqps://guest:guest@127.0.0.1:5671/")
	t.Setenv("HIVE_AMQP_CA", filepath.Join(t.TempDir(), "missing.pem"))
	checks := checkRabbitMQ()
	if len(checks) != 1 || checks[0].ok || !strings.Contains(checks[0].what, "HIVE_AMQP_CA: open ") || !strings.Contains(checks[0].hint, "PEM file") {
		t.Errorf("checkRabbitMQ with a missing CA file = %+v, want one ✗ that names HIVE_AMQP_CA", checks)
	}
}
