package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SocketPath is where the node of a namespace takes commands (see
// Listen), such as `hive scale`: a unix socket in the temporary folder,
// one per namespace, so that `hive scale` finds the node by the same
// HIVE_NAMESPACE as every other hive command.
func SocketPath(namespace string) string {
	return filepath.Join(os.TempDir(), "hive-node-"+namespace+".sock")
}

// Listen opens the unix socket at path for ServeControl. A socket left by
// a node that is gone is removed; one that a running node answers on is
// an error.
func Listen(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("node: another node already takes commands on %s: stop it first, or give this one another namespace", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("node: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	return l, nil
}

// ServeControl takes commands on l until ctx ends, then closes l. It
// speaks HTTP, which curl speaks too:
//
//	curl --unix-socket /tmp/hive-node-hive.sock -d service=kitchen -d count=4 http://node/scale
//
// POST /scale with service and count calls Scale and answers what
// changed ("kitchen: 2 bees → 4"), or why it did not.
func (n *Node) ServeControl(ctx context.Context, l net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /scale", func(w http.ResponseWriter, r *http.Request) {
		service := r.FormValue("service")
		count, err := strconv.Atoi(r.FormValue("count"))
		if err != nil {
			http.Error(w, fmt.Sprintf("count %q: want a whole number", r.FormValue("count")), http.StatusBadRequest)
			return
		}
		from, err := n.Scale(service, count)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s: %s → %d\n", service, count1(from, "bee"), count)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("node: control socket: %w", err)
	}
	return nil
}

// SendScale asks the node that takes commands on the socket at path to
// run count instances of service (see Node.Scale), and returns its answer.
func SendScale(ctx context.Context, path, service string, count int) (string, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	form := url.Values{"service": {service}, "count": {strconv.Itoa(count)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://node/scale", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("no node takes commands on %s (is `hive node` running, in the same HIVE_NAMESPACE?): %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	answer := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(answer)
	}
	return answer, nil
}
