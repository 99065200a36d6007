// Command customer places orders with a running beehive, at a steady rate,
// and prints how each one went: the order it became, and how many attempts
// it took. Run it next to `make run`, and watch the attempts go up when
// bees die.
//
//	go run ./cmd/customer             # 2 orders a second, until Ctrl-C
//	go run ./cmd/customer -rate 10 -n 50
//	go run ./cmd/customer -burst 300  # 300 at once, every 40s: waves of work
//
// It finds order through the registry, like every service does (the
// HIVE_* environment variables; the defaults are what `make up` starts).
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/env"

	"github.com/hive-workshop/microservices-go/solutions/step05-beehive/customer"
)

func main() {
	rate := flag.Float64("rate", 2, "orders per second")
	count := flag.Int("n", 0, "how many orders to place (0: until Ctrl-C)")
	burst := flag.Int("burst", 0, "place this many orders at once, in waves (then -rate does not count)")
	every := flag.Duration("every", 40*time.Second, "with -burst: the time from one wave to the next")
	flag.Parse()
	if err := start(*rate, *count, *burst, *every); err != nil {
		fmt.Fprintln(os.Stderr, "customer:", err)
		os.Exit(1)
	}
}

// start connects, and places orders until Ctrl-C: at a steady rate, or in
// waves of burst orders.
func start(rate float64, count, burst int, every time.Duration) error {
	switch {
	case burst > 0 && every <= 0:
		return fmt.Errorf("-every %v: want a time between waves, such as 40s", every)
	case burst <= 0 && rate <= 0:
		return fmt.Errorf("-rate %v: want more than 0 orders a second", rate)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	settings, err := env.Read()
	if err != nil {
		return err
	}
	// hive's client warns when it tries another instance; the customer
	// prints its own lines instead.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := settings.ConnectRegistry(ctx, quiet)
	if err != nil {
		return err
	}
	defer reg.Close()
	client := hive.NewClient(reg, hive.ClientOptions{Logger: quiet})
	defer client.Close()
	c := customer.New(client, customer.DefaultPolicy())
	// Every order gets a fresh idempotency key: a name for this run, and a
	// number.
	keys := rand.Text()[:6]
	if burst > 0 {
		return waves(ctx, c, keys, burst, every)
	}
	return run(ctx, c, keys, rate, count)
}

func run(ctx context.Context, c *customer.Customer, run string, rate float64, count int) error {
	fmt.Printf("Placing %.1f orders a second, with the keys %s-1, %s-2, ... Ctrl-C stops.\n", rate, run, run)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait() // the orders under way finish, or give up, before we go
	for n := 1; count == 0 || n <= count; n++ {
		key := fmt.Sprintf("%s-%d", run, n)
		items := []customer.Item{{DishID: 1 + n%5, Quantity: 1 + n%3}}
		wg.Go(func() { report(c.Place(context.WithoutCancel(ctx), key, items)) })
		select {
		case <-tick.C:
		case <-ctx.Done():
			fmt.Println("Stopping: waiting for the orders under way.")
			return nil
		}
	}
	return nil
}

// waves places size orders at once, and again every so often, until
// Ctrl-C: work that comes and goes, for a beehive that follows its work.
// It prints a line a wave, not one an order.
func waves(ctx context.Context, c *customer.Customer, run string, size int, every time.Duration) error {
	fmt.Printf("Placing %d orders at once, every %v, with the keys %s-1, %s-2, ... Ctrl-C stops.\n", size, every, run, run)
	for wave, n := 1, 1; ; wave++ {
		start := time.Now()
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			failed int
		)
		for range size {
			key := fmt.Sprintf("%s-%d", run, n)
			items := []customer.Item{{DishID: 1 + n%5, Quantity: 1 + n%3}}
			n++
			wg.Go(func() {
				if r := c.Place(context.WithoutCancel(ctx), key, items); r.Err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		fmt.Printf("wave %d: %d orders placed in %.1fs, %d failed. Watch the kitchens in hive node's terminal.\n",
			wave, size-failed, time.Since(start).Seconds(), failed)
		select {
		case <-time.After(every):
		case <-ctx.Done():
			return nil
		}
	}
}

// report prints one line about how an order went.
func report(r customer.Result) {
	attempts := "1 attempt"
	if r.Attempts > 1 {
		attempts = fmt.Sprintf("%d attempts", r.Attempts)
	}
	if r.Err != nil {
		fmt.Printf("%-12s FAILED after %s: %v\n", r.Key, attempts, r.Err)
		return
	}
	fmt.Printf("%-12s order %s, %5.2f €, placed by %s, %s\n", r.Key, r.Reply.OrderID, float64(r.Reply.TotalCents)/100, r.Reply.PlacedBy, attempts)
}
