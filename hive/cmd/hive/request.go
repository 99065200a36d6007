package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/hive-workshop/microservices-go/hive"
)

var request = &command{
	name:    "request",
	args:    "SERVICE.METHOD [JSON]",
	summary: "call a method and print its response",
	about: `Call a method of a service with a JSON request, and print the JSON response.
Without JSON, the request is read from standard input; from a terminal, the
request is empty. On failure it prints the error's code and message, and
exits with status 1. The trace id goes to standard error, so that you can
find the call in the services' logs. With -version, only instances whose
version is in the range are called (during a rolling deploy: -version '^1'
for the old major version).`,
	example: `hive request greeter.greet '{"name":"Ada"}'
echo '{"name":"Ada"}' | hive request -timeout 1s greeter.greet
hive request -version '^1' menu.get '{"id":1}'`,
	run: runRequest,
}

func runRequest(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	timeout := fs.Duration("timeout", hive.DefaultCallTimeout, "how long to wait for the response")
	traceID := fs.String("trace-id", "", "the trace id to send with the call (default: a new one)")
	version := fs.String("version", "", "call only instances whose version is in this range, such as '^1' (1.x) or '~1.4' (1.4.x)")
	args, err := parse(fs, args, 1, 2)
	if err != nil {
		return err
	}
	body, err := c.body(args[1:])
	if err != nil {
		return err
	}
	if *traceID == "" {
		*traceID = newID()
	}
	client, closeClient, err := c.client(ctx)
	if err != nil {
		return err
	}
	defer closeClient()

	if *version != "" {
		ctx = hive.WithVersion(ctx, *version)
	}
	ctx, cancel := context.WithTimeout(hive.WithTraceID(ctx, *traceID), *timeout)
	defer cancel()
	fmt.Fprintf(c.stderr, "trace id %s\n", *traceID)

	var req any // no body sends no body: the method gets its zero request
	if body != nil {
		req = body
	}
	var resp json.RawMessage
	if err := client.Call(ctx, args[0], req, &resp); err != nil {
		return err // an *hive.Error: "greeter.greet: bad_request: name is empty"
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, resp, "", "  "); err != nil {
		return fmt.Errorf("the response is not valid JSON: %w", err)
	}
	fmt.Fprintln(c.stdout, pretty.String())
	return nil
}
