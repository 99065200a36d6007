// Command menu is the restaurant's menu card as a service: it knows the
// dishes and their prices. Other services ask it with menu.get (one dish)
// and menu.list (all of them).
//
// Run it, together with order, with `make run`.
package main

import (
	"fmt"
	"os"

	"github.com/hive-workshop/microservices-go/hive/env"
)

func main() {
	if err := env.Run(New()); err != nil {
		fmt.Fprintln(os.Stderr, "menu:", err)
		os.Exit(1)
	}
}
