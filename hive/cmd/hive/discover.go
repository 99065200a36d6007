package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

var discover = &command{
	name:    "discover",
	args:    "[SERVICE...]",
	summary: "list the services and their instances",
	about: `List every running instance of every service (or of the services named),
with the endpoint it serves RPCs at, as the registry knows them.`,
	example: "hive discover\nHIVE_NAMESPACE=demo hive discover menu order",
	run:     runDiscover,
}

func runDiscover(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	services, err := parse(fs, args, 0, math.MaxInt)
	if err != nil {
		return err
	}
	reg, err := c.registry(ctx)
	if err != nil {
		return err
	}
	defer reg.Close()

	instances, skipped, err := allInstances(ctx, reg, services)
	if err != nil {
		return err
	}
	defer printSkipped(c.stdout, skipped)
	if len(instances) == 0 {
		fmt.Fprintf(c.stdout, "No services are running in namespace %q.\n", c.settings.Namespace)
		return nil
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SERVICE\tINSTANCE\tENDPOINT\tVERSION\tPID\tUP")
	for _, inst := range instances {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", inst.Service, inst.ID, inst.Endpoint,
			orDash(inst.Version), orDash(pid(inst.PID)), since(inst.Started))
	}
	return w.Flush()
}

// allInstances returns the instances of the services named, or of all
// services if none are named: those a caller can use. skipped says why
// each record that no caller can use was left out (PROTOCOL.md, "A record
// a caller cannot use").
func allInstances(ctx context.Context, reg registry.Registry, services []string) (all []registry.Instance, skipped []string, err error) {
	if len(services) == 0 {
		if services, err = reg.Services(ctx); err != nil {
			return nil, nil, err
		}
	}
	for _, svc := range services {
		list, err := reg.Instances(ctx, svc)
		if err != nil {
			return nil, nil, err
		}
		if sk, ok := reg.(registry.Skipper); ok {
			skipped = append(skipped, sk.Skipped(svc)...)
		}
		all = append(all, list...)
	}
	return all, skipped, nil
}

// printSkipped says how many records were skipped, and why.
func printSkipped(w io.Writer, skipped []string) {
	switch len(skipped) {
	case 0:
		return
	case 1:
		fmt.Fprintln(w, "\n1 record skipped, which no caller can use:")
	default:
		fmt.Fprintf(w, "\n%d records skipped, which no caller can use:\n", len(skipped))
	}
	for _, why := range skipped {
		fmt.Fprintf(w, "  %s\n", why)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// pid returns the process id as text, or "" if it is unknown (as it is
// for the instances of a static registry).
func pid(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// since returns how long ago t was, to the second: "3m12s".
func since(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String()
}
