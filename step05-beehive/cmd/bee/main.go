// Command bee runs one instance of one of this step's services, by name:
//
//	bee menu
//	bee order
//	bee kitchen
//
// `hive node` starts many bees from hive.yml. Each reads the HIVE_*
// environment variables, as env.Run does; the menu reads MENU_DELAY too,
// and the kitchen KITCHEN_COOK_TIME.
package main

import (
	"fmt"
	"os"

	"github.com/hive-workshop/microservices-go/step05-beehive/kitchen"
	"github.com/hive-workshop/microservices-go/step05-beehive/menu"
	"github.com/hive-workshop/microservices-go/step05-beehive/order"
)

func main() {
	if len(os.Args) != 2 {
		usage()
	}
	name := os.Args[1]
	var err error
	switch name {
	case "menu":
		err = menu.Run()
	case "order":
		err = order.Run()
	case "kitchen":
		err = kitchen.Run()
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bee %s: %v\n", name, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: bee menu|order|kitchen")
	os.Exit(2)
}
