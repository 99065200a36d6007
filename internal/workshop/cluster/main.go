// Command cluster starts a 3-node RabbitMQ cluster and a 3-node ZooKeeper
// ensemble on 127.0.0.1 from the Debian packages, with its data under
// .cluster/, and prints the HIVE_* settings that point services at it
// (`make cluster`); with -down it stops them and removes their data
// (`make cluster-down`). See package localcluster for the ports.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/hive-workshop/microservices-go/internal/workshop/localcluster"
)

func main() {
	dir := flag.String("dir", ".cluster", "where the nodes keep their data and logs")
	down := flag.Bool("down", false, "stop the cluster and remove its data")
	flag.Parse()

	c := localcluster.New(localcluster.Config{Dir: *dir})
	if *down {
		if err := c.Stop(); err != nil {
			fail(err)
		}
		if err := c.Remove(); err != nil {
			fail(err)
		}
		fmt.Println("The local cluster is stopped, and its data removed.")
		return
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelTimeout()
	started := time.Now()
	fmt.Println("Starting 3 RabbitMQ nodes and 3 ZooKeeper nodes on 127.0.0.1 (data in " + *dir + ") ...")
	if err := c.Start(ctx); err != nil {
		fail(err)
	}
	fmt.Printf("The cluster serves clients (%.0f s). Point services at it with:\n\n", time.Since(started).Seconds())
	for _, kv := range c.Env() {
		fmt.Println("  export " + kv)
	}
	fmt.Println("\n`make cluster-down` stops it and removes its data.")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cluster:", err)
	os.Exit(1)
}
