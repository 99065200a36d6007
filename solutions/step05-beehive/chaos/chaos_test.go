package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/node"
)

// The audit on made-up evidence: one order lost, one doubled, one cooked
// by two kitchens, one never announced, one failed.
func TestTask5_TheAuditFindsLostAndDoubledOrders(t *testing.T) {
	for _, problem := range auditProblems() {
		t.Error(problem)
	}
}

// auditProblems says what Audit misses in made-up evidence; nothing if it
// finds all that is wrong there.
func auditProblems() []string {
	ev := Evidence{
		Accepted: map[string]string{"k1": "A", "k2": "B", "k3": "C", "k4": "D"},
		Failed:   []string{"k5"},
		Cooked:   map[string]string{"A": "kitchen-1", "C": "kitchen-2", "D": "kitchen-1", "X": "kitchen-2"},
		Heard: map[string][]string{
			"A": {"kitchen-1", "kitchen-1"}, // twice, from one kitchen: fine
			"C": {"kitchen-2", "kitchen-3"}, // two kitchens think they cooked C
			"X": {"kitchen-2"},
			// D was never announced.
		},
	}
	f := Audit(ev)
	var problems []string
	if !slices.Equal(f.Lost, []string{"B"}) {
		problems = append(problems, fmt.Sprintf("Task 5: order B was accepted (the customer was told about it) but is not in Cooked: Audit must list it in Lost. Lost = %v.\n"+
			"In Audit (chaos/audit.go), go through the accepted orders and add each one that ev.Cooked does not have.", f.Lost))
	}
	if !slices.Equal(f.Doubled, []string{"X"}) {
		problems = append(problems, fmt.Sprintf("Task 5: order X is in Cooked, but the customer was never told about it: a double, made from a request sent twice. Audit must list it in Doubled. Doubled = %v.\n"+
			"In Audit (chaos/audit.go), go through ev.Cooked and add each order that is not among the accepted ones.", f.Doubled))
	}
	if !slices.Equal(f.CookedTwice, []string{"C"}) || !slices.Equal(f.Unannounced, []string{"D"}) || !slices.Equal(f.Failed, []string{"k5"}) {
		problems = append(problems, fmt.Sprintf("Task 5: Audit got the part that was given wrong: CookedTwice = %v (want [C]), Unannounced = %v (want [D]), Failed = %v (want [k5]). Compare it with ../solutions.",
			f.CookedTwice, f.Unannounced, f.Failed))
	}
	return problems
}

// The chaos test: a beehive of 2 menus, 2 orders and 2 to 4 kitchens (as
// many as the orders waiting need, as with make run's hive.yml), each a
// process of its own, gets 20 orders a second for 20 seconds, while a bee
// is killed every 2 seconds (SIGKILL: no time to clean up). On the way,
// RabbitMQ closes every connection once, and one menu's ZooKeeper session
// expires. Afterwards every accepted order must be cooked exactly once.
//
// It needs tasks 1 to 5. It takes about 30 seconds.
func TestTask5_NoOrderIsLostOrDoubledWhenBeesDie(t *testing.T) {
	if len(auditProblems()) > 0 {
		t.Fatal("Task 5: Audit does not find what is wrong yet (TestTask5_TheAuditFindsLostAndDoubledOrders says what is missing), " +
			"and the chaos test needs it to tell a good run from a bad one.")
	}
	if testing.Short() {
		t.Skip("the chaos test takes half a minute; -short leaves it out")
	}
	ctx := context.Background()
	b, output := startBeehive(t, BeehiveOptions{
		Menus: 2, Orders: 2,
		KitchenScale:   &node.Scale{Min: 1, Max: 4, Queue: "order.placed", PerBee: 4, CoolDown: 3 * time.Second},
		Env:            map[string]string{"KITCHEN_COOK_TIME": "800ms", "MENU_DELAY": "30ms"},
		ZooKeeperProxy: true,
	})

	// The incidents that need more than the bees: a broken connection to
	// each broker, once. rabbitmqctl may take 10-20s on a busy machine
	// before it closes anything, so it starts early to strike while
	// orders still come in.
	incidents := []Incident{{At: 3 * time.Second, Name: "expire a ZooKeeper session", Do: b.ExpireZooKeeperSession}}
	if brokertest.HaveRabbitmqctl() {
		incidents = append(incidents, Incident{At: 5 * time.Second, Name: "close RabbitMQ's connections", Do: b.CloseRabbitMQConnections})
	} else if os.Getenv(brokertest.RequireEnv) == "1" {
		t.Fatalf("%v: no rabbitmqctl reaches RabbitMQ, here or in its container, and the chaos test needs it to close RabbitMQ's connections", ErrMachine)
	} else {
		t.Log("no rabbitmqctl reaches RabbitMQ, here or in its container: RabbitMQ's connections stay open")
	}

	report, err := Run(ctx, b.Target(), Options{
		Rate:               20,
		Duration:           20 * time.Second,
		KillEvery:          2 * time.Second,
		Incidents:          incidents,
		Settle:             15 * time.Second,
		StopAtFirstFailure: true,
		Progress:           logWriter{t},
	})
	if err != nil {
		showOutput(t, output)
		if errors.Is(err, ErrMachine) {
			t.Fatalf("%v.\n%s", err, notYourCode)
		}
		t.Fatalf("Task 5: %v.\nThe chaos test needs tasks 1 to 4 done first; their tests say what is missing.", err)
	}
	var summary bytes.Buffer
	report.Print(&summary)
	t.Log(summary.String())

	for _, inc := range report.Incidents {
		switch {
		case errors.Is(inc.Err, ErrMachine):
			t.Errorf("an incident went wrong: %s.\n%s", inc.What, notYourCode)
		case inc.Err != nil:
			t.Errorf("an incident went wrong: %s", inc.What)
		}
	}
	if len(report.Kills) < 5 {
		t.Errorf("only %d bees were killed; the test means to kill one every 2 seconds", len(report.Kills))
	}
	if !report.OK() {
		t.Errorf("Task 5: under chaos, the beehive lost or doubled orders:\n  %s\n"+
			"Failed orders mean the customer gave up: task 3 (retry Timeout and Unavailable). Doubles mean order.place made a new order for a key it had seen: task 2. "+
			"Lost or cooked twice: task 4. The summary above, and the bees' output below, tell the story.",
			strings.Join(report.Problems(), "\n  "))
		showOutput(t, output)
	}
}

// notYourCode follows an error of ErrMachine's in a test's message.
const notYourCode = "This failure is the machine's, not your code's. Run the test again once the machine is less busy, or once rabbitmqctl works there."

// startBeehive builds the bee command, starts a beehive of it on the real
// brokers in a namespace of its own, and stops and cleans it up when the
// test ends. It returns the beehive and the bees' output.
func startBeehive(t *testing.T, opts BeehiveOptions) (*Beehive, *hivetest.Logs) {
	t.Helper()
	opts.ZooKeeper, opts.AMQPURL = brokertest.ZooKeeper(t), brokertest.RabbitMQ(t)
	opts.Namespace = hivetest.Namespace(t)
	// Generous: on a busy machine, building takes a minute or more, and
	// starting the bees nearly as long.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bee, err := BuildBee(ctx, "../cmd/bee", t.TempDir())
	if err != nil {
		fatal(t, err)
	}
	opts.Bee = bee
	output := &hivetest.Logs{}
	if opts.Output != nil {
		opts.Output = io.MultiWriter(output, opts.Output)
	} else {
		opts.Output = output
	}

	b, err := StartBeehive(ctx, opts)
	if err != nil {
		showOutput(t, output)
		fatal(t, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("stop the beehive: %v", err)
		}
	})
	return b, output
}

// fatal ends the test with err, saying so when the machine is at fault.
func fatal(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, ErrMachine) {
		t.Fatalf("%v.\n%s", err, notYourCode)
	}
	t.Fatal(err)
}

// logWriter writes each line to the test's log, which go test shows with
// -v or when the test fails.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// showOutput logs the last lines of the bees' output, and writes all of it
// to a file, whose name it logs: thousands of lines are better read in an
// editor than in a terminal.
func showOutput(t *testing.T, output *hivetest.Logs) {
	t.Helper()
	lines := strings.SplitAfter(output.String(), "\n")
	t.Logf("the bees' output, the last lines:\n%s", strings.Join(lines[max(0, len(lines)-40):], ""))
	path := filepath.Join(os.TempDir(), strings.ReplaceAll(t.Name(), "/", "_")+".log")
	if err := os.WriteFile(path, []byte(output.String()), 0o644); err != nil {
		t.Logf("cannot write the bees' output to a file: %v", err)
		return
	}
	t.Logf("all of the bees' output is in %s", path)
}
