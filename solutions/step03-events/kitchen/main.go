// Command kitchen cooks the orders that the order service announces with
// "order.placed" events, and announces each cooked order with an
// "order.cooked" event. Its method cooked lists what this instance cooked.
//
// Run it with `make run`, which starts two kitchens next to order and the
// notifier, and ask each kitchen what it cooked:
//
//	curl -s 127.0.0.1:8012/rpc/cooked
//	curl -s 127.0.0.1:8013/rpc/cooked
package main

import (
	"fmt"
	"os"

	"github.com/hive-workshop/microservices-go/hive/env"
)

func main() {
	// env.Run serves until you press Ctrl-C, then stops gracefully: it
	// finishes the events in progress, and hands back to RabbitMQ the ones
	// it has not started, for the other kitchen to cook.
	if err := env.Run(New()); err != nil {
		fmt.Fprintln(os.Stderr, "kitchen:", err)
		os.Exit(1)
	}
}
