// Command order takes food orders. Its one method, place, accepts an order
// and announces it to the rest of the system with an "order.placed" event,
// through RabbitMQ.
//
// Run it with `make run`, which starts it with two kitchens and a notifier,
// and place an order with curl:
//
//	curl -s -d '{"items":[{"dish":"margherita","quantity":2}]}' 127.0.0.1:8011/rpc/place
package main

import (
	"fmt"
	"os"

	"github.com/hive-workshop/microservices-go/hive/env"
)

func main() {
	// env.Run serves until you press Ctrl-C, then stops gracefully: it
	// finishes the calls in progress before it returns.
	if err := env.Run(New()); err != nil {
		fmt.Fprintln(os.Stderr, "order:", err)
		os.Exit(1)
	}
}
