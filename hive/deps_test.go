package hive_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The drivers that only hive/env and hivetest/brokertest may link: package
// hive knows the registry and the event bus by their interfaces, and the
// in-memory hivetest.Network needs no broker. A step's first `make test`
// builds what its tests link; without these, that is minutes less on a
// workshop laptop.
var drivers = []string{
	"github.com/rabbitmq/amqp091-go",
	"github.com/go-zookeeper/zk",
	"github.com/testcontainers/testcontainers-go",
	"github.com/hive-workshop/microservices-go/hive/events/rabbitmq",
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper",
}

func TestHiveAndHivetestLinkNoDriver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const module = "github.com/hive-workshop/microservices-go/"
	for _, pkg := range []string{module + "hive", module + "hive/hivetest"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for dep := range strings.Lines(string(out)) {
			dep = strings.TrimSpace(dep)
			for _, d := range drivers {
				if dep == d || strings.HasPrefix(dep, d+"/") {
					t.Errorf("%s links %s: connect drivers in hive/env or hive/hivetest/brokertest, not here", pkg, dep)
				}
			}
		}
	}
}
