// Package browser drives a headless Chromium through its DevTools
// protocol, for tests that look at a page in a real browser (the slides,
// the READMEs, hive web's picture): just what they need (open a page at a
// size, run a script, take a screenshot), over a WebSocket written with
// the standard library, so that the workshop's go.mod needs no browser
// library.
package browser

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// chromiumNames are the names Debian, other Linuxes and Homebrew's casks
// give the browser's command.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Require returns the path of a Chromium to run. Without one the
// test is skipped with a message, or fails under HIVE_REQUIRE_BROWSER=1,
// as CI sets it, so that a check cannot pass by skipping there.
// HIVE_CHROMIUM names a browser of your choice.
func Require(t testing.TB) string {
	t.Helper()
	if path := os.Getenv("HIVE_CHROMIUM"); path != "" {
		return path
	}
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := fmt.Sprintf("no Chromium found (looked for %s, or HIVE_CHROMIUM): this check looks at a page in a real browser. "+
		"Install it (Debian: apt-get install chromium) to run it.", strings.Join(chromiumNames, ", "))
	if os.Getenv("HIVE_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + " HIVE_REQUIRE_BROWSER=1 makes this a failure.")
	}
	t.Skip(msg)
	return ""
}

// ScreenshotDir returns the folder for the screenshots: HIVE_SCREENSHOTS,
// or a folder of the test's in the system's temporary folder, emptied
// first. It is kept after the test, to be looked at.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("HIVE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "hive-"+t.Name())
		os.RemoveAll(dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A Browser is a headless Chromium with one page open.
type Browser struct {
	page *cdpConn
}

// Start starts a headless Chromium for the test, with a profile of
// its own, and connects to its page; the test's cleanup ends it.
func Start(t testing.TB, chromium string) *Browser {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := []string{
		"--headless", "--remote-debugging-port=0", "--remote-allow-origins=*",
		"--user-data-dir=" + t.TempDir(),
		"--no-first-run", "--no-default-browser-check", "--disable-gpu",
		"--disable-extensions", "--hide-scrollbars", "--mute-audio",
		"--window-size=1280,720", "about:blank",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--no-sandbox") // Chromium refuses to run as root with its sandbox
	}
	cmd := exec.CommandContext(ctx, chromium, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	var browserURL string
	t.Cleanup(func() {
		// Browser.close ends Chromium with all its helper processes,
		// before the test removes its profile; killing it is the
		// fallback.
		if conn, err := dialCDP(browserURL); err == nil {
			conn.call("Browser.close", map[string]any{}, nil)
			conn.Close()
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})

	// Chromium says where its DevTools listen on stderr.
	wsURL := make(chan string, 1)
	var log strings.Builder
	go func() {
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			line := scanner.Text()
			if m := devtoolsRE.FindStringSubmatch(line); m != nil {
				wsURL <- m[1]
			} else if log.Len() < 4000 {
				log.WriteString(line + "\n")
			}
		}
		close(wsURL)
	}()
	select {
	case u, ok := <-wsURL:
		if !ok {
			t.Fatalf("%s ended without opening its DevTools port:\n%s", chromium, log.String())
		}
		browserURL = u
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not open its DevTools port within 60s", chromium)
	}

	// The page that Chromium opened with about:blank.
	u, _ := url.Parse(browserURL)
	resp, err := http.Get("http://" + u.Host + "/json/list")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var targets []struct {
		Type, WebSocketDebuggerURL string
	}
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		t.Fatal(err)
	}
	for _, target := range targets {
		if target.Type == "page" {
			page, err := dialCDP(target.WebSocketDebuggerURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { page.Close() })
			return &Browser{page: page}
		}
	}
	t.Fatalf("%s has no page open", chromium)
	return nil
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// Open loads url in the page at width×height CSS pixels, and waits until
// it has loaded.
func (b *Browser) Open(url string, width, height int) error {
	if err := b.page.call("Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false,
	}, nil); err != nil {
		return err
	}
	if err := b.page.call("Page.navigate", map[string]any{"url": url}, nil); err != nil {
		return err
	}
	// Page.navigate returns once the new document is there; the script
	// then waits for its load event.
	return b.Eval(`new Promise(loaded => document.readyState === "complete" ? loaded() : addEventListener("load", () => loaded()))`, nil)
}

// PreferColorScheme makes the page see the system's colour scheme as
// "light" or "dark", as CSS's prefers-color-scheme asks it.
func (b *Browser) PreferColorScheme(scheme string) error {
	return b.page.call("Emulation.setEmulatedMedia", map[string]any{
		"features": []map[string]string{{"name": "prefers-color-scheme", "value": scheme}},
	}, nil)
}

// Eval runs the JavaScript expression in the page, waits for it if it is
// a promise, and decodes its value, as JSON, into result.
func (b *Browser) Eval(expr string, result any) error {
	var reply struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := b.page.call("Runtime.evaluate", map[string]any{
		"expression": expr, "awaitPromise": true, "returnByValue": true,
	}, &reply)
	if err != nil {
		return err
	}
	if e := reply.ExceptionDetails; e != nil {
		return fmt.Errorf("the page's script failed: %s %s", e.Text, e.Exception.Description)
	}
	if result == nil {
		return nil
	}
	return json.Unmarshal(reply.Result.Value, result)
}

// Screenshot writes what the page shows to a PNG file.
func (b *Browser) Screenshot(path string) error {
	var reply struct {
		Data string `json:"data"`
	}
	if err := b.page.call("Page.captureScreenshot", map[string]any{"format": "png"}, &reply); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(reply.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// A cdpConn is a connection to one DevTools target: commands go out as
// JSON messages with an id, and the answer with the same id comes back.
// Events, which the checks do not ask for, are read and dropped.
type cdpConn struct {
	ws     *wsConn
	mu     sync.Mutex
	nextID int
}

func dialCDP(wsURL string) (*cdpConn, error) {
	ws, err := dialWebSocket(wsURL)
	if err != nil {
		return nil, err
	}
	return &cdpConn{ws: ws}, nil
}

func (c *cdpConn) Close() error { return c.ws.conn.Close() }

// call sends a command and decodes its result into result, one command
// at a time.
func (c *cdpConn) call(method string, params any, result any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	id := c.nextID
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	c.ws.conn.SetDeadline(time.Now().Add(2 * time.Minute))
	if err := c.ws.writeText(msg); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	for {
		data, err := c.ws.readMessage()
		if err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		var reply struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(data, &reply); err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		if reply.ID != id {
			continue // an event
		}
		if reply.Error != nil {
			return fmt.Errorf("%s: %s", method, reply.Error.Message)
		}
		if result == nil {
			return nil
		}
		return json.Unmarshal(reply.Result, result)
	}
}

// A wsConn is the client side of a WebSocket (RFC 6455), as much of it as
// DevTools needs: text messages, fragmented or not, and pings answered.
type wsConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialWebSocket(rawURL string) (*wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	key := base64.StdEncoding.EncodeToString(nonce)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", u.RequestURI(), u.Host, key)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, &http.Request{Method: http.MethodGet})
	if err != nil {
		conn.Close()
		return nil, err
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != http.StatusSwitchingProtocols ||
		resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		conn.Close()
		return nil, fmt.Errorf("%s refused the WebSocket: %s", rawURL, resp.Status)
	}
	return &wsConn{conn: conn, r: r}, nil
}

// WebSocket opcodes.
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xA
)

// writeText sends one text message in one frame, masked, as a client must.
func (c *wsConn) writeText(payload []byte) error {
	return c.writeFrame(wsText, payload)
}

func (c *wsConn) writeFrame(opcode byte, payload []byte) error {
	header := []byte{0x80 | opcode} // FIN
	switch n := len(payload); {
	case n < 126:
		header = append(header, 0x80|byte(n))
	case n <= 0xFFFF:
		header = append(header, 0x80|126)
		header = binary.BigEndian.AppendUint16(header, uint16(n))
	default:
		header = append(header, 0x80|127)
		header = binary.BigEndian.AppendUint64(header, uint64(n))
	}
	mask := make([]byte, 4)
	rand.Read(mask)
	header = append(header, mask...)
	masked := make([]byte, len(payload))
	for i, b := range payload {
		masked[i] = b ^ mask[i%4]
	}
	_, err := c.conn.Write(append(header, masked...))
	return err
}

// readMessage returns the next text message, joining its fragments.
func (c *wsConn) readMessage() ([]byte, error) {
	var msg []byte
	for {
		var head [2]byte
		if _, err := io.ReadFull(c.r, head[:]); err != nil {
			return nil, err
		}
		fin, opcode := head[0]&0x80 != 0, head[0]&0x0F
		n := uint64(head[1] & 0x7F)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(c.r, ext[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(c.r, ext[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(ext[:])
		}
		if head[1]&0x80 != 0 {
			return nil, errors.New("the server sent a masked frame")
		}
		if n > 256<<20 {
			return nil, fmt.Errorf("a frame of %d bytes", n)
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.r, payload); err != nil {
			return nil, err
		}
		switch opcode {
		case wsPing:
			if err := c.writeFrame(wsPong, payload); err != nil {
				return nil, err
			}
			continue
		case wsPong:
			continue
		case wsClose:
			return nil, errors.New("the browser closed the connection")
		case wsText, wsContinuation:
			msg = append(msg, payload...)
		}
		if fin {
			return msg, nil
		}
	}
}
