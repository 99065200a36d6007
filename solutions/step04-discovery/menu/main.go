// Command menu is the restaurant's menu card as a service: menu.get tells
// a dish's name and price. In this step, two of them run at once.
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
