// Package broker tells whether RabbitMQ or ZooKeeper answers at an
// address. `make doctor` and `make up` ask it: an open port is not enough,
// since another program may hold it, so each probe speaks a few bytes of
// the broker's own protocol.
package broker

import (
	"io"
	"net"
	"strings"
	"time"
)

// Answers reports whether something accepts connections on addr, and
// whether it is the broker that is asks about (IsRabbitMQ, IsZooKeeper).
// It gives up after a second to connect and three to answer, so a
// firewall that swallows packets cannot hang the caller.
func Answers(addr string, is func(net.Conn) bool) (open, isBroker bool) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false, false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	return true, is(conn)
}

// IsRabbitMQ greets the server in AMQP 0-9-1 and checks its first answer:
// a method frame (type 1) on channel 0 carrying connection.start (class 10,
// method 10). That is how every RabbitMQ connection begins.
func IsRabbitMQ(conn net.Conn) bool {
	if _, err := conn.Write([]byte("AMQP\x00\x00\x09\x01")); err != nil {
		return false
	}
	b := make([]byte, 11) // type, channel (2), size (4), class (2), method (2)
	if _, err := io.ReadFull(conn, b); err != nil {
		return false
	}
	return b[0] == 1 && b[1] == 0 && b[2] == 0 && b[8] == 10 && b[10] == 10
}

// IsZooKeeper sends "srvr", one of ZooKeeper's four-letter commands, which
// is allowed by default. Even a server that refuses the command, or that is
// still starting, answers in words that only ZooKeeper uses.
func IsZooKeeper(conn net.Conn) bool {
	if _, err := conn.Write([]byte("srvr")); err != nil {
		return false
	}
	b, _ := io.ReadAll(conn) // the server closes the connection after answering
	s := string(b)
	return strings.Contains(s, "Zookeeper version") || strings.Contains(s, "is not executed because it is not in the whitelist")
}
