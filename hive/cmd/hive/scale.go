package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	hivenode "github.com/hive-workshop/microservices-go/hive/node"
)

var scale = &command{
	name:    "scale",
	args:    "SERVICE N",
	summary: "set how many instances of a service the running hive node runs",
	about: `Ask the running hive node (of the same HIVE_NAMESPACE) to run N instances of
SERVICE. New ones start at once; if there are too many, the youngest are put
to sleep: SIGTERM, so that they leave the registry and finish their work.
A service that follows its work (instances: {min: 1, max: 4, ...} in
hive.yml) takes a count between its min and max, and keeps it for its
cool-down before the node decides again. hive status shows the instances.`,
	example: "hive scale kitchen 4",
	run:     runScale,
}

func runScale(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	socket := fs.String("socket", "", "the node's unix `socket` (default: the one of HIVE_NAMESPACE, as hive node makes it)")
	args, err := parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 {
		return usageError(fmt.Sprintf("N %q: want a whole number of instances, such as 4", args[1]))
	}
	if *socket == "" {
		*socket = hivenode.SocketPath(c.settings.Namespace)
	}
	answer, err := hivenode.SendScale(ctx, *socket, args[0], n)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, answer)
	return nil
}
