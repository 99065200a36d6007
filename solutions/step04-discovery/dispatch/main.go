// Command dispatch knows which kitchens are on duty: dispatch.kitchens
// lists them, as ZooKeeper tells it, live.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dispatch:", err)
		os.Exit(1)
	}
}

func run() error {
	env, err := hive.ReadEnv()
	if err != nil {
		return err
	}
	// hive.Run connects to the registry for the service, but keeps that
	// connection to itself. The roster needs one too, so dispatch opens a
	// second one, with the same settings (HIVE_REGISTRY, HIVE_ZOOKEEPER,
	// HIVE_NAMESPACE), and a logger like the one hive.Run makes.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: env.LogLevel}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg, err := env.ConnectRegistry(ctx, logger)
	if err != nil {
		return err
	}
	defer reg.Close()
	return hive.Run(New(reg))
}
