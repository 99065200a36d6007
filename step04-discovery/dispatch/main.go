// Command dispatch knows which kitchens are on duty: dispatch.kitchens
// lists them, as ZooKeeper tells it, live.
package main

import (
	"fmt"
	"os"

	"github.com/hive-workshop/microservices-go/hive/env"
)

func main() {
	if err := env.Run(New()); err != nil {
		fmt.Fprintln(os.Stderr, "dispatch:", err)
		os.Exit(1)
	}
}
