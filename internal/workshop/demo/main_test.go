package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive/env"
)

// Nothing answers on port 1 of this machine.
var noBrokers = env.Settings{AMQPURL: "amqp://guest:guest@127.0.0.1:1/", ZooKeeper: []string{"127.0.0.1:1"}}

func TestAutoFallsBackToMemoryAndSaysWhy(t *testing.T) {
	mode, why, err := chooseMode("auto", noBrokers)
	if err != nil || mode != "memory" {
		t.Fatalf("chooseMode(auto) without brokers = %q, %v; want memory", mode, err)
	}
	for _, want := range []string{"RabbitMQ does not answer at 127.0.0.1:1", "ZooKeeper does not answer at 127.0.0.1:1", "make up"} {
		if !strings.Contains(why, want) {
			t.Errorf("the reason %q does not say %q", why, want)
		}
	}
}

func TestBrokersModeWithoutBrokersSaysWhatToDo(t *testing.T) {
	_, _, err := chooseMode("brokers", noBrokers)
	if err == nil || !strings.Contains(err.Error(), "make up") || !strings.Contains(err.Error(), "-mode memory") {
		t.Fatalf("chooseMode(brokers) without brokers: %v; want an error that says to run make up, or to use -mode memory", err)
	}
	if _, _, err := chooseMode("cloud", noBrokers); err == nil {
		t.Fatal("chooseMode accepted the mode \"cloud\"")
	}
}

func TestAmqpHost(t *testing.T) {
	for url, want := range map[string]string{
		"amqp://guest:guest@127.0.0.1:5672/": "127.0.0.1:5672",
		"amqp://rabbit:5672":                 "rabbit:5672",
	} {
		if got := amqpHost(url); got != want {
			t.Errorf("amqpHost(%q) = %q, want %q", url, got, want)
		}
	}
}

// The demo in memory mode, short: nothing lost, nothing doubled, and it
// says so.
func TestMemoryModeLosesNothing(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ok, err := run(ctx, &out, options{mode: "memory", duration: 3 * time.Second, rate: 20})
	if err != nil || !ok {
		t.Fatalf("the demo in memory mode: ok = %v, err = %v; its output:\n%s", ok, err, out.String())
	}
	for _, want := range []string{"Mode: memory", "killed", "Nothing lost, nothing doubled"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's output does not say %q:\n%s", want, out.String())
		}
	}
}
