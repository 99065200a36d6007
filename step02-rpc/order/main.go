// Command order takes orders: it asks the menu service for each dish,
// prices the order, and answers with the lines and the total.
//
// Run it, together with menu, with `make run`.
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
