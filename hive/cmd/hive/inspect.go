package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/hive-workshop/microservices-go/hive"
)

var inspect = &command{
	name:    "inspect",
	args:    "SERVICE",
	summary: "show a service's methods and the events it handles",
	about: `Show the methods of a service, with the shape of their requests and
responses as JSON, and the events it subscribes to. It asks one instance,
through the built-in method "inspect".`,
	example: "hive inspect menu",
	run:     runInspect,
}

func runInspect(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	args, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	client, closeClient, err := c.client(ctx)
	if err != nil {
		return err
	}
	defer closeClient()

	var in hive.Inspection
	if err := client.Call(ctx, args[0]+".inspect", nil, &in); err != nil {
		return err
	}
	printInspection(c.stdout, in)
	return nil
}

func printInspection(out io.Writer, in hive.Inspection) {
	var own, builtin []hive.MethodInfo
	for _, m := range in.Methods {
		if m.Builtin {
			builtin = append(builtin, m)
		} else {
			own = append(own, m)
		}
	}
	fmt.Fprintf(out, "Service %s: %s, %s.\n", in.Service, count(len(own), "method"), count(len(in.Events), "event handler"))

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nMethods:")
	for _, m := range own {
		fmt.Fprintf(w, "  %s%s\n", m.Name, when(m.Idempotent, " (idempotent)"))
		fmt.Fprintf(w, "    request\t%s\t%s\n", m.RequestType, m.Request)
		fmt.Fprintf(w, "    response\t%s\t%s\n", m.ResponseType, m.Response)
	}
	var names []string
	for _, m := range builtin {
		names = append(names, m.Name)
	}
	fmt.Fprintf(w, "  %s (built in: every service has them)\n", strings.Join(names, ", "))

	if len(in.Events) > 0 {
		fmt.Fprintln(w, "\nEvents:")
	}
	for _, e := range in.Events {
		fmt.Fprintf(w, "  %s%s\n", e.Pattern, when(e.Broadcast, " (broadcast: every instance gets every event)"))
		fmt.Fprintf(w, "    body\t%s\t%s\n", e.BodyType, e.Body)
	}
	w.Flush()

	if len(own) > 0 {
		m := own[0]
		fmt.Fprintf(out, "\nCall a method, for example:\n  hive request %s.%s '%s'\n", in.Service, m.Name, m.Request)
	}
}

// count says "1 method" or "2 methods".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func when(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}
