// Command notifier tells customers how their orders are doing: it listens
// to every order event ("order.*") and sends a notification for each.
// Its method sent lists the notifications sent.
//
// Run it with `make run`, which starts it next to order and two kitchens,
// and see what it sent:
//
//	curl -s 127.0.0.1:8014/rpc/sent
package main

import (
	"fmt"
	"os"

	"github.com/hive-workshop/microservices-go/hive/env"
)

func main() {
	// env.Run serves until you press Ctrl-C, then stops gracefully.
	if err := env.Run(New()); err != nil {
		fmt.Fprintln(os.Stderr, "notifier:", err)
		os.Exit(1)
	}
}
