// Command up starts the workshop's brokers, RabbitMQ and ZooKeeper, with
// Docker Compose and waits until both serve clients; with -down it stops
// them, and with -pull it downloads the images. Run it from the
// repository's top folder with `make up`, `make down` and `make pull`.
//
// Before it starts anything, it checks what Docker Compose needs: the
// docker command, an engine that answers, and Compose itself (the plugin,
// `docker compose`, or the older `docker-compose`). When one is missing
// it says so in plain words, and how to run the brokers without Docker,
// instead of letting docker print an error such as
// "unknown shorthand flag: 'd' in -d".
//
// A broker that already serves clients where the workshop looks for it
// (HIVE_AMQP_URL, HIVE_ZOOKEEPER, or the ports that docker-compose.yml
// publishes), started by an earlier `make up` or installed natively, is
// left alone: only the other one is started, and with both there is
// nothing to start, so it succeeds without Docker. A port that another
// program holds is named with that program before anything starts.
//
// It waits until each broker serves clients: RabbitMQ logs a client in,
// ZooKeeper says it serves (the same probes as `make doctor`'s). An open
// port is not enough, since Docker's port forwarding accepts connections
// before the broker in the container does.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hive-workshop/microservices-go/hive/env"
	"github.com/hive-workshop/microservices-go/internal/broker"
	"github.com/hive-workshop/microservices-go/internal/workshop/command"
)

// A service is one of docker-compose.yml's services: its name there, the
// host addresses it publishes, and how to tell that it serves clients.
type service struct {
	name      string // in docker-compose.yml
	broker    string // for people
	where     string // the address it serves on
	published []string
	probe     func(ctx context.Context) broker.Status
}

// services returns the brokers of docker-compose.yml, probed where the
// workshop's code looks for them (env.Read: the HIVE_* variables or
// their defaults, the addresses docker-compose.yml publishes).
func services(s env.Settings) []service {
	return []service{
		{
			name: "rabbitmq", broker: "RabbitMQ", where: hostOf(s.AMQPURL),
			published: []string{"127.0.0.1:5672", webUIAddr},
			probe:     func(ctx context.Context) broker.Status { return broker.RabbitMQ(ctx, s.AMQPURL) },
		},
		{
			name: "zookeeper", broker: "ZooKeeper", where: s.ZooKeeper[0],
			published: []string{"127.0.0.1:2181"},
			probe:     func(ctx context.Context) broker.Status { return broker.ZooKeeper(ctx, s.ZooKeeper[0]) },
		},
	}
}

// The management web UI that docker-compose.yml's RabbitMQ publishes.
const webUIAddr = "127.0.0.1:15672"

// readyTimeout bounds the wait for the brokers after compose started
// them: RabbitMQ's first start takes 20-30 s on a laptop.
const readyTimeout = 3 * time.Minute

func main() {
	down := flag.Bool("down", false, "stop the broker containers and remove them and their volumes")
	pullImages := flag.Bool("pull", false, "download every image that make up and the tests use")
	flag.Parse()

	ctx := context.Background()
	var err error
	switch {
	case *down:
		err = stop(ctx)
	case *pullImages:
		err = pull(ctx)
	default:
		var s env.Settings
		if s, err = env.Read(); err == nil {
			err = start(ctx, os.Stdout, services(s))
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// start starts with Docker Compose the brokers of svcs that do not serve
// yet, waits until they do, and says where they are.
func start(ctx context.Context, out io.Writer, svcs []service) error {
	var missing []service
	for _, s := range svcs {
		if s.probe(ctx).State == broker.Ready {
			fmt.Fprintf(out, "%s already serves on %s: nothing to start for it.\n", s.broker, s.where)
			continue
		}
		missing = append(missing, s)
	}
	if len(missing) == 0 {
		fmt.Fprintln(out, "The workshop uses them as they are, whether Docker runs them or not.")
		return nil
	}
	compose, err := findCompose(ctx)
	if err != nil {
		return err
	}
	if err := portsFree(ctx, compose, missing); err != nil {
		return err
	}
	args := []string{"up", "-d"}
	if len(compose) > 1 {
		args = append(args, "--wait") // the plugin waits for the health checks; v1 cannot
	}
	for _, s := range missing {
		args = append(args, s.name)
	}
	if err := run(ctx, compose, args...); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for _, s := range missing {
		if st := broker.Wait(ctx, s.probe); st.State != broker.Ready {
			return fmt.Errorf("%s does not serve clients on %s after %v: %s.\n"+
				"`%s logs %s` shows what it is doing; `make doctor` checks the machine",
				s.broker, s.where, readyTimeout, st.Detail, strings.Join(compose, " "), s.name)
		}
		fmt.Fprintf(out, "%s serves clients on %s.\n", s.broker, s.where)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "RabbitMQ and ZooKeeper are up.")
	fmt.Fprintf(out, "  RabbitMQ web UI: http://%s (user guest, password guest)\n", webUIAddr)
	fmt.Fprintln(out, "  Stop them with:  make down")
	return nil
}

// portsFree checks, before anything starts, that the ports svcs publish
// are free, and names the program that holds any that is not. Ports that
// Docker holds while the project's containers run are theirs: compose up
// then only makes sure that they run.
func portsFree(ctx context.Context, compose []string, svcs []service) error {
	var taken []string
	ours := false
	for _, s := range svcs {
		for _, addr := range s.published {
			l, err := net.Listen("tcp", addr)
			if err == nil {
				l.Close()
				continue
			}
			owner := broker.Owner(ctx, addr)
			if broker.IsDockerForwarding(owner) || owner == "" {
				// Perhaps this project's own containers, from an earlier make up.
				if !ours {
					cmd, err := composeCommand(ctx, compose, "ps", "-q", s.name)
					if err == nil {
						out, err := cmd.Output()
						ours = err == nil && len(bytes.TrimSpace(out)) > 0
					}
				}
				if ours {
					continue
				}
			}
			if owner == "" {
				owner = "another program (run `sudo ss -ltnp` or `sudo lsof -iTCP -sTCP:LISTEN` to see which)"
			}
			taken = append(taken, fmt.Sprintf("%s, which %s needs, is taken by %s", addr, s.broker, owner))
		}
	}
	if len(taken) == 0 {
		return nil
	}
	return errors.New("make up cannot start the brokers: their ports are taken.\n\n- " + strings.Join(taken, "\n- ") + "\n\n" +
		"Stop that program and run `make up` again. If it is a RabbitMQ or ZooKeeper of your own,\n" +
		"the workshop can use it instead: see \"Without Docker\" in README.md.")
}

// ryukImage is the image of Ryuk, the reaper that testcontainers-go
// starts first, to remove the tests' containers when the tests end: the
// tests that start brokers in containers need it as much as the brokers'
// images. (A test keeps it equal to testcontainers-go's.)
const ryukImage = "testcontainers/ryuk:0.14.0"

// pull downloads every image that make up and the tests use, so that
// the workshop works on a network that downloads nothing (a meetup's
// Wi-Fi, say).
func pull(ctx context.Context) error {
	compose, err := findCompose(ctx)
	if err != nil {
		return err
	}
	if err := run(ctx, compose, "pull"); err != nil {
		return err
	}
	return docker(ctx, "pull", ryukImage)
}

// stop stops and removes the broker containers, and their volumes: the
// images declare volumes for their data, and without -v every make up and
// make down left them behind. It removes the containers that the tests
// started and left too (broker.ContainerLabel).
func stop(ctx context.Context) error {
	compose, err := findCompose(ctx)
	if err != nil {
		return err
	}
	if err := run(ctx, compose, "down", "-v"); err != nil {
		return err
	}
	out, err := command.Output(ctx, "docker", "ps", "-aq", "--filter", "label="+broker.ContainerLabel)
	if err != nil || out == "" {
		return nil
	}
	fmt.Printf("Removing the brokers that tests started and left behind: %s\n", strings.Join(strings.Fields(out), " "))
	return docker(ctx, append([]string{"rm", "-f", "-v"}, strings.Fields(out)...)...)
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

	compose := command.Compose(ctx)
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

// run runs compose with args, its output going to the terminal.
func run(ctx context.Context, compose []string, args ...string) error {
	cmd, err := composeCommand(ctx, compose, args...)
	if err != nil {
		return err
	}
	return runCommand(cmd)
}

// docker runs docker with args, its output going to the terminal.
func docker(ctx context.Context, args ...string) error {
	return runCommand(exec.CommandContext(ctx, "docker", args...))
}

func runCommand(cmd *exec.Cmd) error {
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w (`make doctor` shows what is missing)", strings.Join(cmd.Args, " "), err)
	}
	return nil
}

// composeFile is the file that make up and make down hand to Compose, in
// the repository's top folder, where make runs them.
const composeFile = "docker-compose.yml"

// composeCommand returns the command that runs compose with args on
// composeFile. docker-compose v1 (Debian's docker-compose package, say)
// refuses the file's top-level "name:", which Compose v2 added: it gets
// the file without that line on its standard input, and the name with -p,
// so that both name the project, and its containers, alike.
func composeCommand(ctx context.Context, compose []string, args ...string) (*exec.Cmd, error) {
	if len(compose) > 1 {
		return exec.CommandContext(ctx, compose[0], append(compose[1:], args...)...), nil
	}
	file, err := os.ReadFile(composeFile)
	if err != nil {
		return nil, fmt.Errorf("make up runs in the repository's top folder, next to %s: %w", composeFile, err)
	}
	var name string
	var rest []string
	for line := range strings.Lines(string(file)) {
		if v, ok := strings.CutPrefix(line, "name:"); ok {
			name = strings.TrimSpace(v)
			continue
		}
		rest = append(rest, line)
	}
	if name == "" {
		return nil, fmt.Errorf("%s has no top-level name: line", composeFile)
	}
	cmd := exec.CommandContext(ctx, compose[0], append([]string{"-p", name, "-f", "-"}, args...)...)
	cmd.Stdin = strings.NewReader(strings.Join(rest, ""))
	return cmd, nil
}

// hostOf returns the host:port of a URL such as HIVE_AMQP_URL's.
func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Host
}
