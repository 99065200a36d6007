package hive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
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
func (c *envelopeConn) CloseWrite() error { return closeWrite(c.Conn) }

// closeWrite half-closes c, if it can: a wrapped connection passes the
// call on to the one it wraps.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
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

// An instance holds at most MaxConns connections open at once: each holds
// a file descriptor and some memory, and a process that runs out of file
// descriptors can accept no connection at all ("accept: too many open
// files"), not even from the callers it serves well. At the cap, the
// instance stops keeping connections alive: it closes those that idle
// between requests, and each of the others once its answer is out. A new
// connection waits (in the kernel's backlog) until one of them has
// closed; then keep-alive comes back.

// cappedListener accepts a connection only while fewer than cap(open)
// are open.
type cappedListener struct {
	net.Listener
	open   chan struct{} // one per open connection
	resume int           // at most this many open, and the cap is lifted
	atCap  atomic.Bool   // from the moment the cap is reached until it is lifted
	full   func(bool)    // told when the cap is reached (true) and lifted (false)
	wake   chan struct{} // wakes keep when atCap changed
	closed chan struct{} // closed by Close: Accept stops waiting, keep ends
	once   sync.Once
}

// newCappedListener returns a listener that holds at most max connections
// of ln open, and tells full when it reaches the cap and when it lifts
// it.
func newCappedListener(ln net.Listener, max int, full func(bool)) *cappedListener {
	l := &cappedListener{
		Listener: ln,
		open:     make(chan struct{}, max),
		// The cap is lifted once a quarter of the connections have closed,
		// not at the first: the server would flap at the cap.
		resume: max * 3 / 4,
		full:   full,
		wake:   make(chan struct{}, 1),
		closed: make(chan struct{}),
	}
	go l.keep()
	return l
}

func (l *cappedListener) Accept() (net.Conn, error) {
	select {
	case l.open <- struct{}{}:
	default:
		if l.atCap.CompareAndSwap(false, true) {
			l.changed()
		}
		select {
		case l.open <- struct{}{}:
		case <-l.closed:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.open
		return nil, err
	}
	return &cappedConn{Conn: c, l: l}, nil
}

func (l *cappedListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// conns returns how many connections are open.
func (l *cappedListener) conns() int { return len(l.open) }

// release frees the place of a connection that closed.
func (l *cappedListener) release() {
	<-l.open
	if len(l.open) <= l.resume && l.atCap.CompareAndSwap(true, false) {
		l.changed()
	}
}

func (l *cappedListener) changed() {
	select {
	case l.wake <- struct{}{}:
	default: // keep has a wake-up coming already
	}
}

// keep tells full about the cap, in order, one call at a time. Accept and
// release do not call full themselves: full(true) closes connections,
// whose release would otherwise run inside it.
func (l *cappedListener) keep() {
	told := false
	for {
		select {
		case <-l.closed:
			return
		case <-l.wake:
		}
		if now := l.atCap.Load(); now != told {
			l.full(now)
			told = now
		}
	}
}

// cappedConn gives its place back to its listener when it closes.
type cappedConn struct {
	net.Conn
	l    *cappedListener
	once sync.Once
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.release)
	return err
}

// CloseWrite half-closes the connection: see envelopeConn.CloseWrite.
func (c *cappedConn) CloseWrite() error { return closeWrite(c.Conn) }
