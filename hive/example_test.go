package hive_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"sync"

	"github.com/hive-workshop/microservices-go/hive"
	registrymemory "github.com/hive-workshop/microservices-go/hive/registry/memory"
)

// A middleware that counts the calls of each method: metrics, without
// changing hive or the methods. An auth check looks the same, and returns
// an error such as hive.Errorf(hive.BadRequest, "...") instead of calling
// next.
func ExampleService_Use() {
	var mu sync.Mutex
	calls := make(map[string]int)
	counted := func(next hive.Handler) hive.Handler {
		return func(ctx context.Context, c *hive.Call) (any, error) {
			mu.Lock()
			calls[c.Name]++
			mu.Unlock()
			return next(ctx, c)
		}
	}

	svc := hive.New("greeter")
	hive.Handle(svc, "greet", func(ctx context.Context, name string) (string, error) {
		return "Hello, " + name + "!", nil
	})
	svc.Use(counted)

	ctx := context.Background()
	reg := registrymemory.New()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := svc.Start(ctx, hive.Config{Registry: reg, Logger: quiet}); err != nil {
		log.Fatal(err)
	}
	defer svc.Stop(ctx)

	client := hive.NewClient(reg, hive.ClientOptions{Logger: quiet})
	defer client.Close()
	var greeting string
	for _, name := range []string{"Ada", "Grace"} {
		if err := client.Call(ctx, "greeter.greet", name, &greeting); err != nil {
			log.Fatal(err)
		}
	}
	client.Call(ctx, "greeter.ping", nil, nil)

	mu.Lock()
	defer mu.Unlock()
	fmt.Println(greeting)
	fmt.Println("greet:", calls["greet"], "ping:", calls["ping"])
	// Output:
	// Hello, Grace!
	// greet: 2 ping: 1
}
