package chaos

import (
	"io"
	"net"
	"sync"
)

// proxy forwards TCP connections to a server: ZooKeeper, for the menu that
// ExpireZooKeeperSession cuts off. Cutting it drops every connection and
// refuses new ones, as a broken network would, while the server and
// everybody else go on.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns []net.Conn // open connections, both ends
}

// startProxy listens on a free port of 127.0.0.1 and forwards to target.
func startProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	return p, nil
}

// addr is where clients connect.
func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
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
func (p *proxy) forward(client net.Conn) {
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
	io.Copy(client, server)
	client.Close()
}

// cut drops every connection and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore lets new connections through again.
func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// close stops the proxy and drops its connections.
func (p *proxy) close() {
	p.ln.Close()
	p.cut()
}
