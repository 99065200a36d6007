package brokertest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Proxy forwards TCP connections to a server, and can cut them: Cut drops
// every connection and refuses new ones, as a broken network would, while
// the server and its other clients go on. A test puts one between a client
// and ZooKeeper, say, to break the client's session until it expires.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns []net.Conn // open connections, both ends

	fromTarget atomic.Int64 // bytes the target sent to clients
}

// NewProxy listens on a free port of 127.0.0.1 and forwards every
// connection to target (host:port). Close it when done.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target}
	go p.serve()
	return p, nil
}

// Addr is where clients connect instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// FromTarget returns how many bytes the target has sent to clients through
// the proxy so far: what they read, such as the data of the nodes a
// ZooKeeper client gets.
func (p *Proxy) FromTarget() int64 { return p.fromTarget.Load() }

// Cut drops every connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Restore lets new connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Close stops the proxy and drops its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Cut()
}

func (p *Proxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // the listener closed
		}
		go p.forward(client)
	}
}

// forward copies bytes both ways between client and a new connection to
// the target, until either side closes.
func (p *Proxy) forward(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	p.mu.Lock()
	if err != nil || p.down {
		p.mu.Unlock()
		client.Close()
		if server != nil {
			server.Close()
		}
		return
	}
	p.conns = append(p.conns, client, server)
	p.mu.Unlock()

	go func() {
		io.Copy(server, client)
		server.Close()
	}()
	io.Copy(counted{client, &p.fromTarget}, server)
	client.Close()
}

// counted is a writer that counts the bytes written through it.
type counted struct {
	w io.Writer
	n *atomic.Int64
}

func (c counted) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}
