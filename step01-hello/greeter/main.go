// Command greeter is the workshop's first service. It has one method,
// greet, which answers {"greeting": "Hello, Ada!"} to {"name": "Ada"}.
//
// Run it with `make run`, which sets the HIVE_* environment variables it
// needs, and call it with curl:
//
//	curl -s -d '{"name":"Ada"}' 127.0.0.1:8001/rpc/greet
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
		fmt.Fprintln(os.Stderr, "greeter:", err)
		os.Exit(1)
	}
}
