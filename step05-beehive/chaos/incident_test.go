package chaos

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// fakeRabbitmqctl makes brokertest run a rabbitmqctl that runs script,
// for the rest of the test, instead of the broker's own.
func fakeRabbitmqctl(t *testing.T, script string) {
	path := filepath.Join(t.TempDir(), "rabbitmqctl")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(brokertest.RabbitmqctlEnv, path)
}

// An incident whose tool hangs is the machine's fault, and says so once its
// own time is up. The fake rabbitmqctl hangs in a child process, as the
// real one does (su starts the Erlang VM), which holds its output open
// after rabbitmqctl itself is killed.
func TestAnIncidentWhoseToolHangsBlamesTheMachine(t *testing.T) {
	fakeRabbitmqctl(t, "sleep 60")
	b := &Beehive{opts: BeehiveOptions{Namespace: hivetest.Namespace(t)}}
	inc := Incident{Name: "close RabbitMQ's connections", Do: b.CloseRabbitMQConnections, Within: time.Second}

	start := time.Now()
	what, err := cause(context.Background(), inc)
	if !errors.Is(err, ErrMachine) {
		t.Fatalf("cause = %q, %v; want an error of ErrMachine's", what, err)
	}
	if !strings.Contains(what, "the machine, not your code") {
		t.Errorf("the report's line %q does not say that the machine is at fault", what)
	}
	// Far from its 1s, and far from the 60s of the child process.
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the incident took %v: it waited for rabbitmqctl's child process", took)
	}
}

func TestAnIncidentWhoseToolFailsBlamesTheMachine(t *testing.T) {
	fakeRabbitmqctl(t, "echo 'Error: unable to perform an operation on node' >&2; exit 69")
	b := &Beehive{opts: BeehiveOptions{Namespace: hivetest.Namespace(t)}}
	_, err := cause(context.Background(), Incident{Name: "close RabbitMQ's connections", Do: b.CloseRabbitMQConnections})
	if !errors.Is(err, ErrMachine) {
		t.Fatalf("cause: %v; want an error of ErrMachine's", err)
	}
	if !strings.Contains(err.Error(), "unable to perform an operation on node") {
		t.Errorf("the error %q does not say what rabbitmqctl said", err)
	}
}

// An incident's time is its own: the end of the load does not cut it
// short.
func TestAnIncidentOutlivesTheLoad(t *testing.T) {
	slow := Incident{Name: "something slow", Do: func(ctx context.Context) (string, error) {
		if err := wait(ctx, time.Second); err != nil {
			return "", err
		}
		return "something slow, done", nil
	}}
	// Not one order in the 10ms of the load, nor a kill.
	r := &run{opts: Options{Rate: 0.001, Duration: 10 * time.Millisecond, Incidents: []Incident{slow}}, report: &Report{}, progress: io.Discard, start: time.Now()}
	r.load(context.Background())
	if len(r.report.Incidents) != 1 || r.report.Incidents[0].Err != nil {
		t.Fatalf("the incidents: %+v; want the slow one done", r.report.Incidents)
	}
}
