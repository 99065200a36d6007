// Command dispatch knows which kitchens are on duty: dispatch.kitchens
// lists them, as ZooKeeper tells it, live.
package main

import (
	"fmt"
	"os"

	"github.com/hive-workshop/microservices-go/hive"
)

func main() {
	if err := hive.Run(New()); err != nil {
		fmt.Fprintln(os.Stderr, "dispatch:", err)
		os.Exit(1)
	}
}
