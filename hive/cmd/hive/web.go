package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/events"
)

var web = &command{
	name:    "web",
	summary: "show the hive live in a browser: bees, rates, queues, what happened",
	about: `Serve one page on 127.0.0.1 that shows the hive live: every service and
its instances (a killed bee goes, a restarted one comes), each service's
calls, errors and events per second, whom it calls and how often those
calls fail, each subscription's queue (events waiting, consumers, dead
letters), and a timeline of what happened. The
page is sent a new picture twice a second (server-sent events); the
instances are asked for their status at most once a -poll, and only while
a page is open. Open the URL it prints, then run the demo or hive node.`,
	example: "hive web\nhive web -addr 127.0.0.1:7070\nHIVE_NAMESPACE=demo hive web",
	run:     runWeb,
}

// webDefaultAddr is where hive web serves unless told otherwise.
const webDefaultAddr = "127.0.0.1:7070"

// frameInterval is how often the page gets a picture: the instances are
// asked less often, the registry's changes show at the next frame.
const frameInterval = 500 * time.Millisecond

//go:embed web
var webFiles embed.FS

func runWeb(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
	addr := fs.String("addr", webDefaultAddr, "the address to serve the page at (port 0: any free port)")
	poll := fs.Duration("poll", time.Second, "how often to ask each instance for its status, at the least 1s")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *poll < time.Second {
		return usageError(fmt.Sprintf("-poll %v: at the least 1s, so that watching the hive costs it little", *poll))
	}
	reg, err := c.registry(ctx)
	if err != nil {
		return err
	}
	defer reg.Close()
	var backlog events.BacklogReader
	bus, err := c.bus(ctx)
	if err != nil {
		fmt.Fprintf(c.stderr, "hive web: no queues in the picture: %v\n", err)
	} else {
		defer bus.Close()
		backlog, _ = bus.(events.BacklogReader)
	}
	client := hive.NewClient(reg, hive.ClientOptions{Logger: c.logger, Timeout: *poll * 9 / 10})
	defer client.Close()

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("%w (another hive web? choose another port with -addr)", err)
	}
	o := newObserver(c.settings.Namespace, reg, client, backlog, *poll)
	go o.run(ctx)
	srv := &http.Server{
		Handler:           webHandler(o),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx }, // the pictures' streams end with ctx
	}
	context.AfterFunc(ctx, func() {
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	})
	fmt.Fprintf(c.stdout, "The hive %q, live: http://%s/ (Ctrl-C stops)\n", c.settings.Namespace, l.Addr())
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// webHandler serves the page and, at /pictures, the stream of pictures.
func webHandler(o *observer) http.Handler {
	static, _ := fs.Sub(webFiles, "web")
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /pictures", func(w http.ResponseWriter, r *http.Request) {
		flusher, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "streaming is not supported", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		done := o.look()
		defer done()
		tick := time.NewTicker(frameInterval)
		defer tick.Stop()
		for {
			data, err := json.Marshal(o.picture())
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
				return // the page has gone
			}
			flusher.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	})
	return mux
}
