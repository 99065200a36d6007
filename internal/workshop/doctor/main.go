// Command doctor checks that a machine is ready for the workshop and says
// what to do about anything that is not. Run it from the repository's top
// folder with `make doctor` (or `go run ./internal/workshop/doctor`).
//
// Steps 1 and 2 need nothing but Go. Steps 3 to 5 need RabbitMQ and
// ZooKeeper, which `make up` starts in Docker. So only a missing or too old
// Go makes the doctor exit with an error; everything else is a warning.
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"go/version"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/hive-workshop/microservices-go/hive/env"
	"github.com/hive-workshop/microservices-go/internal/broker"
	"github.com/hive-workshop/microservices-go/internal/workshop/command"
)

// A check is one line of the checklist: ✓ or ✗, what was found, and for a
// ✗ a hint that says what to do about it. A check that failed but blocks
// nothing, such as Docker when the brokers already run without it, shows
// "–" instead of ✗, so that a ready machine does not look broken.
type check struct {
	ok        bool
	notNeeded bool
	what      string
	hint      string
}

func main() {
	fmt.Println("Checking your machine for the workshop:")
	fmt.Println()

	goCheck := checkGo()
	rabbits := checkRabbitMQ()
	zk := checkZooKeeper()
	// One RabbitMQ node that serves is enough to work: hive moves to it.
	rabbitUp := slices.ContainsFunc(rabbits, func(c check) bool { return c.ok })
	brokersUp := rabbitUp && zk.ok

	checks := []check{goCheck}
	checks = append(checks, checkDocker(brokersUp)...)
	checks = append(checks, rabbits...)
	if rabbitUp {
		checks = append(checks, checkManagementUI(rabbitUIAddr()))
	}
	checks = append(checks, zk)
	for _, c := range checks {
		mark := "✓"
		switch {
		case !c.ok && c.notNeeded:
			mark = "–"
		case !c.ok:
			mark = "✗"
		}
		fmt.Printf("  %s %s\n", mark, c.what)
		if !c.ok && c.hint != "" {
			fmt.Printf("      → %s\n", strings.ReplaceAll(c.hint, "\n", "\n        "))
		}
	}

	fmt.Println()
	if !goCheck.ok {
		fmt.Println("Not ready: the workshop needs Go first (see above).")
		os.Exit(1)
	}
	fmt.Println("Steps 1–2 (no brokers needed): ready.")
	if brokersUp {
		fmt.Println("Steps 3–5 (RabbitMQ and ZooKeeper): ready.")
	} else {
		fmt.Println("Steps 3–5 need RabbitMQ and ZooKeeper: run `make up` before step 3 (see the ✗ lines above).")
	}
}

// checkGo compares the Go that runs this program (the one that will build
// and test the workshop) with the version that go.mod asks for.
func checkGo() check {
	have := runtime.Version() // for example "go1.26.8"
	want, err := goModVersion()
	if err != nil {
		return check{what: "Go " + strings.TrimPrefix(have, "go") + ": cannot read go.mod (" + err.Error() + ")",
			hint: "Run the doctor from the repository's top folder: `make doctor`."}
	}
	what := fmt.Sprintf("Go %s (go.mod needs %s or newer)", strings.TrimPrefix(have, "go"), want)
	// A development build ("devel ...") is not a release number; trust it.
	if version.IsValid(have) && version.Compare(have, "go"+want) < 0 {
		return check{what: what, hint: "Install Go " + want + " or newer from https://go.dev/dl/"}
	}
	return check{ok: true, what: what}
}

// goModVersion returns the version on the "go" line of the go.mod in the
// current folder or the nearest folder above it.
func goModVersion() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			s := bufio.NewScanner(f)
			for s.Scan() {
				if v, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "go "); ok {
					return strings.TrimSpace(v), nil
				}
			}
			return "", errors.New("go.mod has no go line")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod here or in a folder above")
		}
		dir = parent
	}
}

// checkDocker checks the docker command, its compose plugin and the engine.
// They are needed only for `make up`: when the brokers already run some
// other way, the hints say so.
func checkDocker(brokersUp bool) []check {
	why := "\n`make up` needs it to start the brokers for steps 3–5."
	if brokersUp {
		why = "\nOnly `make up` needs it, and your brokers already run: you can skip this."
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return []check{{what: "Docker is not installed", notNeeded: brokersUp,
			hint: "Install Docker Desktop or Docker Engine: https://docs.docker.com/get-docker/" + why}}
	}
	var checks []check

	// The Compose that `make up` runs: the plugin, or else docker-compose v1.
	switch compose := command.Compose(context.Background()); {
	case compose == nil:
		checks = append(checks, check{what: "Docker Compose is missing: neither `docker compose` nor `docker-compose` works",
			hint: "Install the Compose plugin: https://docs.docker.com/compose/install/" + why})
	case len(compose) == 1:
		out, _ := command.Output(context.Background(), "docker-compose", "version", "--short")
		checks = append(checks, check{ok: true, what: "Docker Compose " + out + " (docker-compose, the older Compose v1: make up works with it)"})
	default:
		out, _ := command.Output(context.Background(), "docker", "compose", "version", "--short")
		checks = append(checks, check{ok: true, what: "Docker Compose " + out})
	}

	out, err := command.Output(context.Background(), "docker", "version", "--format", "{{.Server.Version}}")
	switch {
	case err == nil:
		checks = append(checks, check{ok: true, what: "Docker engine " + out + " is running"})
	case strings.Contains(out, "permission denied"):
		checks = append(checks, check{what: "Docker engine: permission denied",
			hint: "Add yourself to the docker group (sudo usermod -aG docker $USER), then log in again." + why})
	default:
		checks = append(checks, check{what: "Docker engine is not running (" + command.FirstLine(out) + ")",
			hint: "Start Docker Desktop, or on Linux: sudo systemctl start docker." + why})
	}
	for i := range checks {
		checks[i].notNeeded = brokersUp
	}
	return checks
}

// checkRabbitMQ looks for RabbitMQ where the workshop's code looks for it:
// at HIVE_AMQP_URL if that is set, otherwise on the port that
// docker-compose.yml publishes. HIVE_AMQP_URL may name a cluster's nodes,
// comma-separated, as hive takes them: each gets a check of its own, so
// that a node that is down shows while the others serve.
func checkRabbitMQ() []check {
	urls, from := []string{"amqp://guest:guest@127.0.0.1:5672/"}, ""
	if s := os.Getenv("HIVE_AMQP_URL"); s != "" {
		urls, from = strings.Split(s, ","), " (from HIVE_AMQP_URL)"
	}
	// amqps:// URLs as hive speaks them: with the CA of HIVE_AMQP_CA.
	tlsConfig, err := env.Settings{AMQPCA: os.Getenv(env.AMQPCA)}.AMQPTLS()
	if err != nil {
		return []check{{what: "RabbitMQ: " + err.Error(),
			hint: "Point " + env.AMQPCA + " at the PEM file of the CA that signed your brokers' certificates, or unset it."}}
	}
	var checks []check
	for i, amqpURL := range urls {
		amqpURL = strings.TrimSpace(amqpURL)
		from := from
		if len(urls) > 1 {
			from = fmt.Sprintf(" (%d of %d in HIVE_AMQP_URL)", i+1, len(urls))
		}
		u, err := url.Parse(amqpURL)
		if err != nil || u.Host == "" {
			// Not the URL itself: it may hold a password.
			checks = append(checks, check{what: "RabbitMQ: HIVE_AMQP_URL holds something that is not a URL" + strings.TrimSuffix(from, " (from HIVE_AMQP_URL)"),
				hint: "Set it like amqp://guest:guest@127.0.0.1:5672/ (several: comma-separated) or unset it."})
			continue
		}
		probe := func(ctx context.Context) broker.Status { return broker.RabbitMQTLS(ctx, amqpURL, tlsConfig) }
		checks = append(checks, checkBroker("RabbitMQ", u.Host, from, probe, "127.0.0.1:15672"))
	}
	return checks
}

// rabbitUIAddr returns where RabbitMQ's web UI answers: port 15672 on the
// host of HIVE_AMQP_URL (its first URL), or of docker-compose.yml's
// RabbitMQ.
func rabbitUIAddr() string {
	host := "127.0.0.1"
	first, _, _ := strings.Cut(os.Getenv("HIVE_AMQP_URL"), ",")
	if u, err := url.Parse(strings.TrimSpace(first)); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return net.JoinHostPort(host, "15672")
}

// checkManagementUI checks that RabbitMQ's management plugin, its web UI,
// answers on addr. A RabbitMQ installed natively often lacks it. Nothing
// needs it: the READMEs give a command line next to every look at the UI.
func checkManagementUI(addr string) check {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		conn.Close()
		return check{ok: true, what: "RabbitMQ's web UI answers on http://" + addr}
	}
	return check{what: "RabbitMQ's web UI (the management plugin) does not answer on " + addr + " (optional)", notNeeded: true,
		hint: "Enable it: sudo rabbitmq-plugins enable rabbitmq_management\n" +
			"or look from the command line instead:\n" +
			"  sudo rabbitmqctl list_queues name messages consumers\n" +
			"  go run ./hive/cmd/hive subscribe     # every event, as it passes"}
}

// checkZooKeeper does the same for ZooKeeper and HIVE_ZOOKEEPER, a
// comma-separated list of host:port of which one answering is enough.
func checkZooKeeper() check {
	addrs, from := []string{"127.0.0.1:2181"}, ""
	if s := os.Getenv("HIVE_ZOOKEEPER"); s != "" {
		addrs, from = strings.Split(s, ","), " (from HIVE_ZOOKEEPER)"
	}
	var c check
	for _, addr := range addrs {
		addr = strings.TrimSpace(addr)
		probe := func(ctx context.Context) broker.Status { return broker.ZooKeeper(ctx, addr) }
		if c = checkBroker("ZooKeeper", addr, from, probe); c.ok {
			break
		}
	}
	return c
}

// brokerProcesses names the programs that RabbitMQ (Erlang's VM) and
// ZooKeeper (Java's) run as: one of them on the broker's port is the
// broker, still starting.
var brokerProcesses = map[string]string{"RabbitMQ": "beam", "ZooKeeper": "java"}

// checkBroker asks the broker at addr whether it serves clients (with
// probe). A broker that is still starting is told apart from another
// program on its port: the latter is named, as the system names it. If
// nothing answers, it checks that `make up` could publish the broker's
// ports: addr and any extra ports, such as RabbitMQ's web UI.
func checkBroker(name, addr, from string, probe func(context.Context) broker.Status, extraPorts ...string) check {
	ctx := context.Background()
	st := probe(ctx)
	owner := ""
	if st.State == broker.Silent || st.State == broker.Other {
		owner = broker.Owner(ctx, addr)
	}
	// A silent port whose owner is neither Docker's port forwarding nor the
	// broker's own process belongs to someone else's program.
	if st.State == broker.Silent && owner != "" && !broker.IsDockerForwarding(owner) && !strings.HasPrefix(owner, brokerProcesses[name]) {
		st.State = broker.Other
	}
	switch st.State {
	case broker.Ready:
		return check{ok: true, what: name + " answers on " + addr + from}
	case broker.Refused:
		return check{what: name + " on " + addr + from + " refuses the login: " + st.Detail,
			hint: "Check the user, password and virtual host in HIVE_AMQP_URL (the RabbitMQ of `make up` takes guest/guest on /)."}
	case broker.Untrusted:
		return check{what: name + " on " + addr + from + " speaks TLS, but " + st.Detail,
			hint: "Set HIVE_AMQP_CA to the PEM file of the CA that signed its certificate (without it, the system's CAs)."}
	case broker.Silent, broker.Starting:
		return check{what: name + " on " + addr + from + " is still starting: " + st.Detail + ownedBy(owner),
			hint: "Wait a few seconds and run `make doctor` again (RabbitMQ takes up to 30 s to start).\n" +
				"If it still says so after a minute: `docker compose logs` shows what the brokers are doing."}
	case broker.Other:
		c := check{what: name + ": something that is not " + name + " answers on " + addr + from + ownedBy(owner) + ": " + st.Detail,
			hint: "Stop the program that uses " + addr + ", then run `make up`."}
		if owner != "" {
			c.hint = "Stop " + owner + ", which uses " + addr + ", then run `make up`."
		}
		if from != "" {
			c.hint = "Point the variable at " + name + ", or unset it and run `make up`."
		}
		return c
	}
	if from != "" {
		return check{what: name + ": nothing answers on " + addr + from,
			hint: "Start the broker that this variable points at, or unset the variable and run `make up`."}
	}
	for _, port := range append([]string{addr}, extraPorts...) {
		l, err := net.Listen("tcp", port)
		if err != nil {
			return check{what: name + ": not running, and " + port + " is taken by " + cmp.Or(broker.Owner(ctx, port), "another program"),
				hint: "Stop the program that uses " + port + ", then run `make up`."}
		}
		l.Close()
	}
	return check{what: name + ": not running (" + addr + " is free, so `make up` can start it)",
		hint: "Run `make up` before step 3."}
}

// ownedBy says who holds a port, if the system says.
func ownedBy(owner string) string {
	if owner == "" {
		return ""
	}
	return " (" + owner + " holds the port)"
}
