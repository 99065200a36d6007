// Command up starts the workshop's brokers, RabbitMQ and ZooKeeper, with
// Docker Compose and waits until both are healthy; with -down it stops
// them. Run it from the repository's top folder with `make up` and
// `make down`.
//
// Before it starts anything, it checks what Docker Compose needs: the
// docker command, an engine that answers, and Compose itself (the plugin,
// `docker compose`, or the older `docker-compose`). When one is missing
// it says so in plain words, and how to run the brokers without Docker,
// instead of letting docker print an error such as
// "unknown shorthand flag: 'd' in -d".
//
// When RabbitMQ and ZooKeeper already answer on their ports, started by an
// earlier `make up` or installed natively, there is nothing to start: it
// says so and succeeds, without Docker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hive-workshop/microservices-go/internal/workshop/broker"
	"github.com/hive-workshop/microservices-go/internal/workshop/command"
)

// Where docker-compose.yml publishes the brokers.
const (
	rabbitMQAddr  = "127.0.0.1:5672"
	zooKeeperAddr = "127.0.0.1:2181"
	webUIAddr     = "127.0.0.1:15672"
)

func main() {
	down := flag.Bool("down", false, "stop and remove the broker containers")
	flag.Parse()

	ctx := context.Background()
	var err error
	if *down {
		err = stop(ctx)
	} else {
		err = start(ctx, os.Stdout, brokersAnswer())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// brokersAnswer reports whether RabbitMQ and ZooKeeper both answer where
// docker-compose.yml publishes them.
func brokersAnswer() bool {
	_, rabbit := broker.Answers(rabbitMQAddr, broker.IsRabbitMQ)
	_, zk := broker.Answers(zooKeeperAddr, broker.IsZooKeeper)
	return rabbit && zk
}

// start starts the brokers with Docker Compose and says where they are;
// if they already answer, it only says so.
func start(ctx context.Context, out io.Writer, alreadyUp bool) error {
	if alreadyUp {
		fmt.Fprintf(out, "RabbitMQ (%s) and ZooKeeper (%s) already answer: nothing to start.\n", rabbitMQAddr, zooKeeperAddr)
		fmt.Fprintln(out, "The workshop uses them as they are, whether Docker runs them or not.")
		return nil
	}
	compose, err := findCompose(ctx)
	if err != nil {
		return err
	}
	if err := run(ctx, compose, false); err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "RabbitMQ and ZooKeeper are up.")
	fmt.Fprintf(out, "  RabbitMQ web UI: http://%s (user guest, password guest)\n", webUIAddr)
	fmt.Fprintln(out, "  Stop them with:  make down")
	return nil
}

// stop stops and removes the broker containers.
func stop(ctx context.Context) error {
	compose, err := findCompose(ctx)
	if err != nil {
		return err
	}
	return run(ctx, compose, true)
}

// findCompose returns the command that runs Docker Compose here, such as
// ["docker", "compose"], or an error that tells a person what to do.
func findCompose(ctx context.Context) ([]string, error) {
	var problems []string
	if _, err := exec.LookPath("docker"); err != nil {
		problems = append(problems, "The docker command is not installed.")
	} else if out, err := command.Output(ctx, "docker", "info", "--format", "{{.ServerVersion}}"); err != nil {
		switch {
		case strings.Contains(out, "permission denied"):
			problems = append(problems, "Docker's engine refuses you (permission denied).\n"+
				"  On Linux: sudo usermod -aG docker $USER, then log in again.")
		default:
			problems = append(problems, "Docker's engine does not answer ("+command.FirstLine(out)+").\n"+
				"  Start Docker Desktop, or on Linux: sudo systemctl start docker.")
		}
	}

	compose := composeCommand(ctx)
	if compose == nil {
		problems = append(problems, "Docker Compose is missing: neither `docker compose` nor `docker-compose` works.\n"+
			"  Install the Compose plugin: https://docs.docker.com/compose/install/")
	}
	if len(problems) == 0 {
		return compose, nil
	}
	return nil, errors.New("make up cannot start RabbitMQ and ZooKeeper in Docker:\n\n- " +
		strings.Join(problems, "\n- ") + "\n\n" +
		"Either install Docker Desktop (macOS, Windows) or Docker Engine with the Compose plugin (Linux),\n" +
		"https://docs.docker.com/get-docker/, start it, and run `make up` again;\n" +
		"or run RabbitMQ and ZooKeeper without Docker: see \"Without Docker\" in README.md.\n" +
		"`make doctor` checks the result.")
}

// composeCommand returns the Compose that answers: the plugin
// (`docker compose`) or, failing that, the older standalone
// `docker-compose`. It returns nil if neither does.
func composeCommand(ctx context.Context) []string {
	for _, c := range [][]string{{"docker", "compose"}, {"docker-compose"}} {
		if _, err := exec.LookPath(c[0]); err != nil {
			continue
		}
		if _, err := command.Output(ctx, c[0], append(c[1:], "version")...); err == nil {
			return c
		}
	}
	return nil
}

// run starts the brokers (or stops them, if down) with compose, its output
// going to the terminal.
func run(ctx context.Context, compose []string, down bool) error {
	args := []string{"down"}
	switch {
	case down:
	case len(compose) == 1: // docker-compose v1 has no --wait: wait here.
		args = []string{"up", "-d"}
	default:
		args = []string{"up", "-d", "--wait"}
	}
	cmd := exec.CommandContext(ctx, compose[0], append(compose[1:], args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w (`make doctor` shows what is missing)", strings.Join(compose, " "), strings.Join(args, " "), err)
	}
	if down || len(compose) > 1 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for _, addr := range []string{rabbitMQAddr, zooKeeperAddr} {
		if err := waitForPort(ctx, addr); err != nil {
			return err
		}
	}
	return nil
}

// waitForPort waits until something accepts connections on addr.
func waitForPort(ctx context.Context, addr string) error {
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", addr, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
