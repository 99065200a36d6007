// Command order takes food orders: order.place prices them with the menu
// service and announces them with an "order.placed" event.
package main

import (
	"fmt"
	"os"

	"github.com/hive-workshop/microservices-go/hive/env"
)

func main() {
	if err := env.Run(New()); err != nil {
		fmt.Fprintln(os.Stderr, "order:", err)
		os.Exit(1)
	}
}
