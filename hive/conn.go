package hive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
)

// net/http answers a few broken requests itself, before any handler runs:
// it writes a plain-text answer straight to the connection and hangs up.
// 400 for a request that is not HTTP, 431 for headers over MaxHeaderBytes,
// 501 for an unknown Transfer-Encoding, 505 for an unknown HTTP version,
// 417 for an Expect header other than 100-continue. Every answer of an
// instance is a response or an error envelope, so its listener hands the
// server connections that turn those answers into envelopes on their way
// out.

// envelopeListener hands the server connections on which net/http's own
// answers become error envelopes from service.
type envelopeListener struct {
	net.Listener
	service string
}

func (l envelopeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &envelopeConn{Conn: c, service: l.service}, nil
}

type envelopeConn struct {
	net.Conn
	service string
}

// Write passes the server's writes on, but for net/http's own answers.
// net/http writes each of those whole, in one Write, with a status line
// and a header that says "Connection: close" but not hive's JSON content
// type. No hive response looks like that (they all have the content type),
// nor does a piece of one: JSON holds no raw line breaks, so no piece of a
// JSON body can look like a header.
func (c *envelopeConn) Write(p []byte) (int, error) {
	status, text, ok := plainAnswer(p)
	if !ok {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(envelopeAnswer(c.service, status, text)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite half-closes the connection, as net/http does after a 431, so
// that the caller reads the answer before the connection goes.
func (c *envelopeConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// plainAnswer recognizes one of net/http's own answers, and returns its
// status and the text of its body.
func plainAnswer(p []byte) (status int, text string, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !found || len(rest) < 3 {
		return 0, "", false
	}
	end := bytes.Index(p, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, "", false
	}
	header, body := p[:end+2], p[end+4:] // the header with its last line break, so that every line ends in one
	if !bytes.Contains(header, []byte("\r\nConnection: close\r\n")) || bytes.Contains(header, []byte("\r\nContent-Type: application/json\r\n")) {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(rest[:3]))
	if err != nil {
		return 0, "", false
	}
	return status, string(body), true
}

// envelopeAnswer is the answer an instance gives instead of one of
// net/http's: an error envelope, with a status that fits its code like
// every other.
func envelopeAnswer(service string, status int, text string) []byte {
	if text == "" {
		text = fmt.Sprintf("%d %s", status, http.StatusText(status))
	}
	e := Errorf(BadRequest, "the request is not valid HTTP/1.1: %s", text)
	if status == http.StatusRequestHeaderFieldsTooLarge {
		e = Errorf(BadRequest, "the request headers are larger than the limit of %d bytes", maxHeaderBytes)
	}
	body, _ := json.Marshal(envelope{Error: e}) // cannot fail: strings only
	code := e.Code.httpStatus()
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%s: %s\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		code, http.StatusText(code), serviceHeader, service, len(body), body)
}
