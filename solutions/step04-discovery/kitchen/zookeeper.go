package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// sessionTimeout is how long ZooKeeper keeps a session, and so its ephemeral
// nodes, after it last heard from the client. A kitchen that crashes without
// a word leaves the election this long after its last sign of life.
const sessionTimeout = 4 * time.Second

// connect opens a ZooKeeper session on servers (host:port each) and returns
// once it has one, or fails after a few seconds. zk.Connect alone returns
// at once and keeps trying in the background forever; a kitchen should
// rather fail at start and say why.
func connect(ctx context.Context, servers []string, logger *slog.Logger) (*zk.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, events, err := zk.Connect(servers, sessionTimeout,
		zk.WithLogger(zkLogger{logger}), // the client's log lines go through slog...
		zk.WithLogInfo(false),           // ...and only its errors: "connected to", "authenticated" are noise
	)
	if err != nil {
		return nil, fmt.Errorf("connect to ZooKeeper at %s: %w", strings.Join(servers, ","), err)
	}
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn, nil
			}
		case <-ctx.Done():
			conn.Close()
			return nil, fmt.Errorf("connect to ZooKeeper at %s: no session (%w): is it running? Try `make up` in the repository's top folder",
				strings.Join(servers, ","), ctx.Err())
		}
	}
}

// zkLogger passes the zk client's log lines to slog. Left alone, the client
// writes them with the standard library's log package, straight to stderr.
type zkLogger struct{ logger *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.logger.Warn("zookeeper client: " + fmt.Sprintf(format, args...))
}
