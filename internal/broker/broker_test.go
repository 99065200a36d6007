package broker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/internal/broker"
	"github.com/hive-workshop/microservices-go/internal/broker/brokerfake"
)

func TestRabbitMQ(t *testing.T) {
	real := brokertest.RabbitMQ(t)
	wrongPassword, _ := url.Parse(real)
	wrongPassword.User = url.UserPassword("guest", "not-the-password")
	for _, tc := range []struct {
		name string
		url  string
		want broker.State
	}{
		{"a real RabbitMQ", real, broker.Ready},
		{"a wrong password", wrongPassword.String(), broker.Refused},
		{"nothing there", "amqp://guest:guest@" + brokerfake.FreeAddr(t) + "/", broker.Closed},
		{"docker's port forwarding, the container not listening yet", "amqp://guest:guest@" + brokerfake.Server(t, brokerfake.ClosesAtOnce) + "/", broker.Silent},
		{"a program that says nothing", "amqp://guest:guest@" + brokerfake.Server(t, brokerfake.SaysNothing) + "/", broker.Silent},
		{"an HTTP server", "amqp://guest:guest@" + brokerfake.Server(t, brokerfake.Replies("HTTP/1.1 400 Bad Request\r\n\r\n")) + "/", broker.Other},
		{"a short answer", "amqp://guest:guest@" + brokerfake.Server(t, brokerfake.Replies("\x01\x00")) + "/", broker.Other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			if got := broker.RabbitMQ(ctx, tc.url); got.State != tc.want || (got.State != broker.Ready && got.Detail == "") {
				t.Errorf("RabbitMQ(%s) = %v %q, want %v with a detail", tc.url, got.State, got.Detail, tc.want)
			}
		})
	}
}

func TestZooKeeper(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr string
		want broker.State
	}{
		{"a real ZooKeeper", brokertest.ZooKeeper(t)[0], broker.Ready},
		{"serving", brokerfake.Server(t, brokerfake.Replies("Zookeeper version: 3.9.3\nLatency min/avg/max: 0/0.0/0\nMode: standalone\n")), broker.Ready},
		{"still starting", brokerfake.Server(t, brokerfake.Replies("This ZooKeeper instance is not currently serving requests\n")), broker.Starting},
		{"refuses srvr", brokerfake.Server(t, brokerfake.Replies("srvr is not executed because it is not in the whitelist.\n")), broker.Ready},
		{"nothing there", brokerfake.FreeAddr(t), broker.Closed},
		{"docker's port forwarding, the container not listening yet", brokerfake.Server(t, brokerfake.ClosesAtOnce), broker.Silent},
		{"an HTTP server", brokerfake.Server(t, brokerfake.Replies("HTTP/1.1 400 Bad Request\r\n\r\n")), broker.Other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := broker.ZooKeeper(t.Context(), tc.addr); got.State != tc.want {
				t.Errorf("ZooKeeper(%s) = %v %q, want %v", tc.addr, got.State, got.Detail, tc.want)
			}
		})
	}
}

func TestWaitEndsWithTheLastStatus(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	addr := brokerfake.Server(t, brokerfake.ClosesAtOnce)
	if got := broker.Wait(ctx, func(ctx context.Context) broker.Status { return broker.ZooKeeper(ctx, addr) }); got.State != broker.Silent {
		t.Errorf("Wait on a silent port = %v (%s), want silent once its time is up", got.State, got.Detail)
	}
	calls := 0
	got := broker.Wait(t.Context(), func(context.Context) broker.Status {
		calls++
		if calls < 3 {
			return broker.Status{State: broker.Starting}
		}
		return broker.Status{State: broker.Ready}
	})
	if got.State != broker.Ready || calls != 3 {
		t.Errorf("Wait = %v after %d probes, want ready after 3", got.State, calls)
	}
}

func TestOwner(t *testing.T) {
	addr := brokerfake.Server(t, brokerfake.ClosesAtOnce)
	owner := broker.Owner(t.Context(), addr)
	if owner == "" {
		t.Skip("neither ss nor lsof names the owner of a port here")
	}
	if want := "(pid " + strconv.Itoa(os.Getpid()) + ")"; !strings.HasSuffix(owner, want) {
		t.Errorf("Owner(%s) = %q, want this test's own process, %s", addr, owner, want)
	}
	if got := broker.Owner(t.Context(), brokerfake.FreeAddr(t)); got != "" {
		t.Errorf("Owner of a free port = %q, want \"\"", got)
	}
	if broker.IsDockerForwarding(owner) || !broker.IsDockerForwarding("docker-proxy (pid 12)") {
		t.Errorf("IsDockerForwarding is wrong about %q or docker-proxy", owner)
	}
}

// TestRabbitMQOverTLS: an amqps:// URL is probed over TLS, checking the
// certificate against the CAs given; TestEventsOverTLS (hive/env) probes
// a real RabbitMQ so.
func TestRabbitMQOverTLS(t *testing.T) {
	// A TLS server, with httptest's certificate for 127.0.0.1, that
	// answers the AMQP greeting in HTTP: once the handshake passes, the
	// probe reads what it says.
	cert := httptest.NewUnstartedServer(nil)
	cert.StartTLS()
	t.Cleanup(cert.Close)
	reply := brokerfake.Replies("HTTP/1.1 400 Bad Request\r\n\r\n")
	host := brokerfake.Server(t, func(c net.Conn) {
		s := tls.Server(c, &tls.Config{Certificates: cert.TLS.Certificates})
		reply(s)
		s.Close()
	})
	trusted := &tls.Config{RootCAs: x509.NewCertPool()}
	trusted.RootCAs.AddCert(cert.Certificate())
	plain := brokerfake.Server(t, brokerfake.Replies("AMQP\x00\x00\x09\x01"))
	for _, tc := range []struct {
		name   string
		url    string
		config *tls.Config
		want   broker.State
		detail string
	}{
		{"its CA trusted", "amqps://guest:guest@" + host + "/", trusted, broker.Other, `"HTTP/1.1 40`},
		{"the system's CAs", "amqps://guest:guest@" + host + "/", nil, broker.Untrusted, "certificate"},
		{"another CA", "amqps://guest:guest@" + host + "/", &tls.Config{RootCAs: x509.NewCertPool()}, broker.Untrusted, "certificate"},
		{"no TLS there", "amqps://guest:guest@" + plain + "/", trusted, broker.Other, "does not speak TLS"},
		{"closes at once", "amqps://guest:guest@" + brokerfake.Server(t, brokerfake.ClosesAtOnce) + "/", trusted, broker.Silent, "TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			if got := broker.RabbitMQTLS(ctx, tc.url, tc.config); got.State != tc.want || !strings.Contains(got.Detail, tc.detail) {
				t.Errorf("RabbitMQTLS(%s) = %v %q, want %v with %q", tc.url, got.State, got.Detail, tc.want, tc.detail)
			}
		})
	}
}
