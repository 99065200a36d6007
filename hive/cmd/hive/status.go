package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

var status = &command{
	name:    "status",
	args:    "[SERVICE...]",
	summary: "show the counters of every instance",
	about: `Ask every instance (of every service, or of the services named) for its
counters, through the built-in method "status", and show them as a table:
RPC calls answered, errors among them, calls in flight, events handled and
failed, the 50th and 99th percentile of the latest calls' latency, and how
long the instance has been up. With -watch, the table is drawn again and
again.`,
	example: "hive status\nhive status -watch 1s menu",
	run:     runStatus,
}

func runStatus(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	watch := fs.Duration("watch", 0, "draw the table again at this interval, until Ctrl-C (0: once)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for each instance")
	services, err := parse(fs, args, 0, math.MaxInt)
	if err != nil {
		return err
	}
	reg, err := c.registry(ctx)
	if err != nil {
		return err
	}
	defer reg.Close()
	client := hive.NewClient(reg, hive.ClientOptions{Logger: c.logger, Timeout: *timeout})
	defer client.Close()

	for {
		var table bytes.Buffer
		if err := statusTable(ctx, &table, reg, client, services); err != nil {
			return err
		}
		if *watch > 0 && isTerminal(c.stdout) {
			fmt.Fprint(c.stdout, "\x1b[H\x1b[2J") // clear the screen, so the table stays in place
		}
		c.stdout.Write(table.Bytes())
		if *watch <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*watch):
		}
	}
}

// statusTable asks every instance for its status, all at once, and writes
// the answers as a table.
func statusTable(ctx context.Context, out io.Writer, reg registry.Registry, client *hive.Client, services []string) error {
	instances, skipped, err := allInstances(ctx, reg, services)
	if err != nil {
		return err
	}
	defer printSkipped(out, skipped)
	if len(instances) == 0 {
		fmt.Fprintln(out, "No instances are running.")
		return nil
	}
	answers, errs := statuses(ctx, client, instances)

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SERVICE\tINSTANCE\tENDPOINT\tCALLS\tERRORS\tIN-FLIGHT\tHANDLED\tFAILED\tP50\tP99\tCONNS\tGOROUTINES\tUP")
	for i, inst := range instances {
		if errs[i] != nil {
			// Dashes keep the columns of the other lines in place; the error
			// goes last, where it widens no column.
			fmt.Fprintf(w, "%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%v\n", inst.Service, inst.ID, inst.Endpoint, errs[i])
			continue
		}
		s := answers[i]
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%d\t%d\t%s\n", s.Service, s.Instance, s.Endpoint,
			s.Calls, s.Errors, s.InFlight, s.EventsHandled, s.EventsFailed, millis(s.LatencyP50), millis(s.LatencyP99),
			s.Connections, s.Goroutines, since(s.Started))
	}
	return w.Flush()
}

// statuses asks every instance for its status, all at once: the answers,
// and the errors of those that did not answer.
func statuses(ctx context.Context, client *hive.Client, instances []registry.Instance) ([]hive.Status, []error) {
	answers := make([]hive.Status, len(instances))
	errs := make([]error, len(instances))
	var wg sync.WaitGroup
	for i, inst := range instances {
		wg.Go(func() { errs[i] = client.CallInstance(ctx, inst, "status", nil, &answers[i]) })
	}
	wg.Wait()
	return answers, errs
}

// callCounter counts the calls in flight of a service for hive node: the
// sum of what its instances' status built-ins say. An instance that does
// not answer (it is starting, or stopping) counts none.
type callCounter struct {
	reg    registry.Registry
	client *hive.Client
}

func (c callCounter) InFlight(ctx context.Context, service string) (int, error) {
	instances, err := c.reg.Instances(ctx, service)
	if err != nil {
		return 0, err
	}
	answers, errs := statuses(ctx, c.client, instances)
	total, answered := 0, 0
	for i := range answers {
		if errs[i] == nil {
			total += int(answers[i].InFlight)
			answered++
		}
	}
	if answered == 0 && len(instances) > 0 {
		return 0, fmt.Errorf("no instance of %s answered status: %w", service, errors.Join(errs...))
	}
	return total, nil
}

// millis formats a latency in milliseconds: "0.42ms", "12ms", or "-"
// before the first call.
func millis(ms float64) string {
	switch {
	case ms == 0:
		return "-"
	case ms >= 10:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.2fms", ms)
}
