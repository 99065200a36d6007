// Command kitchen cooks the orders that the order service places. Of all
// the kitchens that run, one prints the daily report: the leader of an
// election in ZooKeeper.
package main

import (
	"fmt"
	"os"

	"github.com/hive-workshop/microservices-go/hive/env"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kitchen:", err)
		os.Exit(1)
	}
}

func run() error {
	// The election needs the same settings as hive's registry: where
	// ZooKeeper is (HIVE_ZOOKEEPER), and the namespace (HIVE_NAMESPACE).
	settings, err := env.Read()
	if err != nil {
		return err
	}
	return env.Run(New(settings.ZooKeeper, settings.Namespace))
}
