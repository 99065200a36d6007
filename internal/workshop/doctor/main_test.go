package main

import (
	"io"
	"net"
	"strings"
	"testing"

	"github.com/hive-workshop/microservices-go/internal/workshop/broker"
)

// fakeServer listens on a free local port and answers every connection
// with reply, after reading what the client sends first.
func fakeServer(t *testing.T, reply string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Read(make([]byte, 64))
			io.WriteString(conn, reply)
			conn.Close()
		}
	}()
	return l.Addr().String()
}

// freeAddr returns a local address that nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The first 11 bytes of RabbitMQ's connection.start frame.
const connectionStart = "\x01\x00\x00\x00\x00\x01\xf4\x00\x0a\x00\x0a"

func TestCheckBroker(t *testing.T) {
	taken := fakeServer(t, "")
	for _, tc := range []struct {
		name   string
		addr   string
		is     func(net.Conn) bool
		extra  []string
		wantOK bool
		want   string
	}{
		{"rabbitmq answers", fakeServer(t, connectionStart), broker.IsRabbitMQ, nil, true, "answers on"},
		{"zookeeper answers", fakeServer(t, "Zookeeper version: 3.9.3\nMode: standalone\n"), broker.IsZooKeeper, nil, true, "answers on"},
		{"zookeeper refuses srvr", fakeServer(t, "srvr is not executed because it is not in the whitelist.\n"), broker.IsZooKeeper, nil, true, "answers on"},
		{"http server on the amqp port", fakeServer(t, "HTTP/1.1 400 Bad Request\r\n\r\n"), broker.IsRabbitMQ, nil, false, "something that is not"},
		{"http server on the zookeeper port", fakeServer(t, "HTTP/1.1 400 Bad Request\r\n\r\n"), broker.IsZooKeeper, nil, false, "something that is not"},
		{"nothing there, ports free", freeAddr(t), broker.IsRabbitMQ, []string{freeAddr(t)}, false, "so `make up` can start it"},
		{"nothing there, extra port taken", freeAddr(t), broker.IsRabbitMQ, []string{taken}, false, taken + " is taken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := checkBroker("Broker", tc.addr, "", tc.is, tc.extra...)
			if c.ok != tc.wantOK || !strings.Contains(c.what, tc.want) {
				t.Errorf("checkBroker = %+v, want ok=%v and %q", c, tc.wantOK, tc.want)
			}
			if !c.ok && c.hint == "" {
				t.Errorf("checkBroker = %+v: a ✗ without a hint", c)
			}
		})
	}
}

func TestGoModVersion(t *testing.T) {
	// The tests run in this package's folder; go.mod is three folders up.
	v, err := goModVersion()
	if err != nil || !strings.HasPrefix(v, "1.") {
		t.Errorf("goModVersion = %q, %v; want a version like 1.26", v, err)
	}
	if c := checkGo(); !c.ok {
		t.Errorf("checkGo = %+v, want ok: this very test runs on a Go that builds the module", c)
	}
}

func TestCheckManagementUI(t *testing.T) {
	if c := checkManagementUI(fakeServer(t, "")); !c.ok {
		t.Errorf("checkManagementUI with a listener = %+v, want ok", c)
	}
	c := checkManagementUI(freeAddr(t))
	if c.ok || !strings.Contains(c.what, "management plugin") || !strings.Contains(c.hint, "rabbitmqctl list_queues") {
		t.Errorf("checkManagementUI with nothing there = %+v, want ✗ naming the plugin, with rabbitmqctl in the hint", c)
	}
}
