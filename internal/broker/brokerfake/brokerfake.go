// Package brokerfake serves programs that are not brokers on local
// ports, for the tests of what probes brokers (package broker, make
// doctor, brokertest): Docker's port forwarding in front of a container
// that does not listen yet, another program's protocol, a broker's canned
// answer.
package brokerfake

import (
	"io"
	"net"
	"testing"
)

// Server listens on a free port of 127.0.0.1 until the test ends, does
// serve with every connection, then closes it. It returns the address.
func Server(t testing.TB, serve func(net.Conn)) string {
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
			go func() {
				defer conn.Close()
				serve(conn)
			}()
		}
	}()
	return l.Addr().String()
}

// Replies answers what the client sends first with reply.
func Replies(reply string) func(net.Conn) {
	return func(c net.Conn) {
		c.Read(make([]byte, 64))
		io.WriteString(c, reply)
	}
}

// ClosesAtOnce is what Docker's port forwarding does while the container
// does not listen yet: it accepts the connection, and closes it.
func ClosesAtOnce(net.Conn) {}

// SaysNothing is what a program that waits for its own protocol does: it
// accepts the connection and says nothing.
func SaysNothing(c net.Conn) { io.Copy(io.Discard, c) }

// FreeAddr returns an address of 127.0.0.1 that nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
