package chaos

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// Bees that neither register nor die are slow to start: the machine's
// fault. (These sleep.)
func TestBeesStillStartingBlameTheMachine(t *testing.T) {
	t.Parallel()
	err := startFakeBees(t, "sleep 600")
	if !errors.Is(err, ErrMachine) {
		t.Errorf("StartBeehive: %v; want an error of ErrMachine's", err)
	}
}

// A bee that dies on the way is not the machine's fault.
func TestABeeThatDiesOnTheWayIsNotTheMachinesFault(t *testing.T) {
	t.Parallel()
	err := startFakeBees(t, "echo 'panic: not ready'; exit 2")
	if err == nil || errors.Is(err, ErrMachine) {
		t.Errorf("StartBeehive: %v; want an error that does not blame the machine", err)
	}
}

// startFakeBees starts a beehive of one menu, a bee that runs script, and
// returns why it did not start within a few seconds. It does not log the
// error: make test reads "the machine, not your code" in the output as a
// failure's.
func startFakeBees(t *testing.T, script string) error {
	bee := filepath.Join(t.TempDir(), "bee")
	if err := os.WriteFile(bee, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := StartBeehive(ctx, BeehiveOptions{
		Bee: bee, Namespace: hivetest.Namespace(t), ZooKeeper: brokertest.ZooKeeper(t), AMQPURL: brokertest.RabbitMQ(t),
		Menus: 1,
	})
	if err == nil {
		b.Close(context.Background())
		t.Fatal("a beehive of fake bees started")
	}
	return err
}
