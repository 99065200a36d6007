// Package broker tells whether RabbitMQ or ZooKeeper serves clients at an
// address, and who holds a port. `make up`, `make doctor` and the tests'
// brokertest ask it, so that all three agree on what "the broker is up"
// means.
//
// An open port proves nothing: Docker's port forwarding accepts
// connections as soon as a container starts, long before the broker in it
// listens, and another program may hold the port. So each probe speaks
// the broker's own protocol, and tells apart a broker that serves, one
// that is still starting, and something else.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ContainerLabel marks the containers that brokertest starts for tests,
// when no broker serves on the default ports: Ryuk, testcontainers-go's
// reaper, removes them when the tests end, and `make down` any that Ryuk
// could not (when it is disabled, say).
const ContainerLabel = "hive-workshop.brokertest"

// A State is what a probe found at an address.
type State int

const (
	// Closed: nothing accepts connections there.
	Closed State = iota
	// Silent: something accepts connections but says nothing, or closes
	// them at once. Docker's port forwarding does that while the broker in
	// the container is still starting; so does a program that is not a
	// broker and waits for its own protocol.
	Silent
	// Starting: the broker answers in its protocol, but does not serve
	// clients yet.
	Starting
	// Refused: RabbitMQ serves, but not this login or virtual host.
	Refused
	// Untrusted: the broker speaks TLS (amqps://) with a certificate that
	// no CA trusted here signed, or that does not name its host.
	Untrusted
	// Other: something answers, in words that are not the broker's.
	Other
	// Ready: the broker serves clients.
	Ready
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Silent:
		return "silent"
	case Starting:
		return "starting"
	case Refused:
		return "refused"
	case Untrusted:
		return "untrusted"
	case Other:
		return "other"
	case Ready:
		return "ready"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// A Status is a probe's answer: the state, and in Detail what the address
// said or did, for a person to read.
type Status struct {
	State  State
	Detail string
}

// How long a probe waits to connect, and then for an answer: short
// enough that a firewall that swallows packets cannot hang the caller.
const (
	dialTimeout   = time.Second
	answerTimeout = 3 * time.Second
)

// RabbitMQ probes the RabbitMQ of amqpURL (amqp://user:password@host:port/vhost):
// it greets the server in AMQP 0-9-1, checks that the first answer is
// RabbitMQ's connection.start, and then logs in and opens the virtual
// host with amqp091-go, as a service would. Ready means that a service
// can connect now.
func RabbitMQ(ctx context.Context, amqpURL string) Status {
	return RabbitMQTLS(ctx, amqpURL, nil)
}

// RabbitMQTLS is RabbitMQ, where an amqps:// URL is spoken over TLS with
// tlsConfig (nil: the system's CAs), as hive does with HIVE_AMQP_CA.
func RabbitMQTLS(ctx context.Context, amqpURL string, tlsConfig *tls.Config) Status {
	u, err := url.Parse(amqpURL)
	if err != nil || u.Host == "" {
		return Status{Closed, fmt.Sprintf("%q is not an AMQP URL", amqpURL)}
	}
	var overTLS *tls.Config
	if u.Scheme == "amqps" {
		overTLS = tlsConfig.Clone()
		if overTLS == nil {
			overTLS = &tls.Config{}
		}
		overTLS.ServerName = u.Hostname()
	}
	s := talk(ctx, u.Host, overTLS, "AMQP\x00\x00\x09\x01", func(r io.Reader) ([]byte, error) {
		b := make([]byte, 11) // type, channel (2), size (4), class (2), method (2)
		n, err := io.ReadFull(r, b)
		return b[:n], err
	}, func(b []byte) Status {
		// A method frame (type 1) on channel 0 carrying connection.start
		// (class 10, method 10): how every RabbitMQ connection begins.
		if len(b) == 11 && b[0] == 1 && b[1] == 0 && b[2] == 0 && b[8] == 10 && b[10] == 10 {
			return Status{State: Ready}
		}
		return Status{Other, "it answered " + quote(b)}
	})
	if s.State != Ready {
		return s
	}
	conn, err := amqp.DialConfig(amqpURL, amqp.Config{
		Dial:            amqp.DefaultDial(answerTimeout),
		TLSClientConfig: overTLS,
		Properties:      amqp.Table{"connection_name": "workshop broker probe"},
	})
	if err != nil {
		var amqpErr *amqp.Error
		if errors.As(err, &amqpErr) && (amqpErr.Code == amqp.AccessRefused || amqpErr.Code == amqp.NotAllowed) {
			return Status{Refused, amqpErr.Reason}
		}
		return Status{Starting, "it answers but refuses clients for now (" + err.Error() + ")"}
	}
	conn.Close()
	return Status{State: Ready}
}

// ZooKeeper probes the ZooKeeper at addr (host:port) with "srvr", one of
// its four-letter commands, allowed by default. A server that serves
// clients answers with a "Mode:" line (standalone, leader or follower);
// one that is still starting says that it is not serving requests.
func ZooKeeper(ctx context.Context, addr string) Status {
	return talk(ctx, addr, nil, "srvr", func(r io.Reader) ([]byte, error) {
		return io.ReadAll(r) // the server closes the connection after answering
	}, func(b []byte) Status {
		s := string(b)
		switch {
		case strings.Contains(s, "\nMode: ") || strings.HasPrefix(s, "Mode: "):
			return Status{State: Ready}
		case strings.Contains(s, "not currently serving requests"):
			return Status{Starting, "it answers but does not serve requests yet"}
		case strings.Contains(s, "is not executed because it is not in the whitelist"):
			// A ZooKeeper set up to refuse srvr (4lw.commands.whitelist):
			// it answered, so it runs, but whether it serves cannot be
			// asked this way. Every ZooKeeper the workshop starts allows srvr.
			return Status{State: Ready}
		case strings.Contains(s, "Zookeeper version"):
			return Status{Starting, "it answers without a Mode: line"}
		}
		return Status{Other, "it answered " + quote(b)}
	})
}

// talk connects to addr, over TLS with tlsConfig unless it is nil, sends
// hello, reads the answer with read, and judges it with judge. A
// connection refused is Closed; one that is accepted and then closed,
// reset or left without a word is Silent; a certificate not trusted is
// Untrusted.
func talk(ctx context.Context, addr string, tlsConfig *tls.Config, hello string, read func(io.Reader) ([]byte, error), judge func([]byte) Status) Status {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return Status{Closed, "nothing accepts connections (" + err.Error() + ")"}
	}
	defer conn.Close()
	deadline := time.Now().Add(answerTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	if tlsConfig != nil {
		c := tls.Client(conn, tlsConfig)
		if err := c.HandshakeContext(ctx); err != nil {
			if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
				return Status{Untrusted, "its certificate is not trusted (" + err.Error() + ")"}
			}
			// Closed, reset or a timeout, rather than words that are not
			// TLS's (a tls.RecordHeaderError) or TLS's alerts.
			if _, ok := errors.AsType[*net.OpError](err); ok || errors.Is(err, io.EOF) {
				return Status{Silent, "it accepts connections but does not answer TLS's hello"}
			}
			return Status{Other, "it does not speak TLS (" + err.Error() + ")"}
		}
		conn = c
	}
	if _, err := io.WriteString(conn, hello); err != nil {
		return Status{Silent, "it accepts connections but closes them without a word"}
	}
	b, err := read(conn)
	if len(b) == 0 {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return Status{Silent, fmt.Sprintf("it accepts connections but says nothing for %v", answerTimeout)}
		}
		return Status{Silent, "it accepts connections but closes them without a word"}
	}
	return judge(b)
}

// quote shows the first bytes of an answer, for a message.
func quote(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	return fmt.Sprintf("%q", b)
}

// Wait probes with probe until the broker is Ready or ctx ends, twice a
// second, and returns the last status that a whole probe found (a probe
// cut short by ctx's end finds nothing worth telling).
func Wait(ctx context.Context, probe func(context.Context) Status) Status {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var last Status
	for first := true; ; first = false {
		s := probe(ctx)
		if s.State == Ready {
			return s
		}
		if ended(ctx) && !first {
			return last
		}
		last = s
		select {
		case <-ctx.Done():
			return last
		case <-tick.C:
		}
	}
}

// ended reports whether ctx has ended, or is about to: a dial gives up at
// ctx's deadline a moment before ctx itself says so.
func ended(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(d)
}
