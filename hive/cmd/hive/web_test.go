//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/internal/browser"
)

// pageState is what the browser test reads off hive web's page: what a
// person in the room sees, not the JSON behind it.
type pageState struct {
	Frames   int               `json:"frames"`
	Bees     []pageBee         `json:"bees"`
	Rates    map[string]string `json:"rates"`  // by service: its line of rates
	Edges    map[string]string `json:"edges"`  // by "from→to": its line of rates
	Queues   map[string]int    `json:"queues"` // by subscription: its dead letters
	Timeline string            `json:"timeline"`
}

// A pageBee is an instance on the page: up, or down (it does not answer).
type pageBee struct {
	ID    string `json:"id"`
	PID   int    `json:"pid,string"`
	State string `json:"state"`
}

// bee returns the bee of the process pid, and whether the page shows it.
func (p pageState) bee(pid int) (pageBee, bool) {
	i := slices.IndexFunc(p.Bees, func(b pageBee) bool { return b.PID == pid })
	if i < 0 {
		return pageBee{}, false
	}
	return p.Bees[i], true
}

const pageStateJS = `(() => ({
	frames: +(document.body.dataset.frames || 0),
	bees: [...document.querySelectorAll(".bee:not(.leaving)")].map(b => ({id: b.dataset.instance, pid: b.dataset.pid, state: b.dataset.state})),
	rates: Object.fromEntries([...document.querySelectorAll(".service:not(.leaving)")].map(s => [s.dataset.service, s.querySelector(".rates").textContent])),
	edges: Object.fromEntries([...document.querySelectorAll("[data-edge]")].map(e => [e.dataset.edge, e.textContent])),
	queues: Object.fromEntries([...document.querySelectorAll("#queues tr[data-queue]")].map(r => [r.dataset.queue, +(r.querySelector("[data-dead]")?.dataset.dead ?? -1)])),
	timeline: document.getElementById("timeline").innerText,
}))()`

// hive web, in a headless Chromium, against bees on real brokers: the
// bees appear, the menu's calls show as a rate, a SIGKILLed bee goes
// within 3 s, a restarted one comes, and a dead letter shows in its
// queue and in the timeline. On a failure the page's screenshot is kept;
// HIVE_WEB_SCREENSHOT=FILE keeps one of the page just after the kill (the
// README's: slides/hive-web.png).
func TestWebShowsTheHiveLive(t *testing.T) {
	t.Parallel()
	chromium := browser.Require(t)
	n := brokertest.NewNetwork(t)
	env := brokerEnv(t, n)
	first, second := startBee(t, env, "menu"), startBee(t, env, "menu")
	startBee(t, env, "front")

	web := startHive(t, env, "web", "-addr", "127.0.0.1:0")
	url := regexp.MustCompile(`http://\S+/`).FindString(web.stdout.waitFor(t, "live: http://"))
	b := browser.Start(t, chromium)
	shot := func(name string) {
		path := filepath.Join(browser.ScreenshotDir(t), name)
		if err := b.Screenshot(path); err != nil {
			t.Logf("screenshot: %v", err)
			return
		}
		t.Logf("the page as it was: %s", path)
	}
	t.Cleanup(func() {
		if t.Failed() {
			shot("hive-web.png")
		}
	})
	require.NoError(t, b.Open(url, 1280, 720))

	var page pageState
	// waitFor reads the page until ok says it shows what it should.
	waitFor := func(within time.Duration, what string, ok func(pageState) bool) {
		t.Helper()
		err := hivetest.Eventually(within, func() error {
			page = pageState{}
			if err := b.Eval(pageStateJS, &page); err != nil {
				return err
			}
			if !ok(page) {
				return fmt.Errorf("the page does not show %s: %+v", what, page)
			}
			return nil
		})
		require.NoError(t, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waitFor(20*time.Second, "three bees", func(p pageState) bool {
		return len(p.Bees) == 3 && !slices.ContainsFunc(p.Bees, func(b pageBee) bool { return b.State != "up" })
	})
	framesBefore := page.Frames

	// The front's calls to the menu, one in five for a dish it does not
	// have, show as the menu's rate and as an edge with an error rate.
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			var dish Dish
			n.Call(ctx, "front.dish", GetRequest{ID: 1 + max(i%5-3, 0)}, &dish)
			time.Sleep(20 * time.Millisecond) // a steady trickle of calls, not a flood
		}
	}()
	waitFor(10*time.Second, "the front's calls to the menu", func(p pageState) bool {
		edge := p.Edges["front→menu"]
		return !strings.HasPrefix(p.Rates["menu"], "0 calls/s") &&
			strings.Contains(edge, "calls/s") && !strings.Contains(edge, " 0 calls/s") && !strings.Contains(edge, " 0 errors/s") &&
			strings.Contains(edge, "p99")
	})

	// A dead letter: an order.placed whose body the menu cannot read.
	bad := events.Event{ID: "bad-1", Type: "order.placed", Source: "test", Time: time.Now(), Body: json.RawMessage(`{"order_id": 5}`)}
	require.NoError(t, n.Bus.Publish(ctx, bad))
	waitFor(10*time.Second, "a dead letter", func(p pageState) bool {
		return p.Queues["menu.order.placed"] == 1 && strings.Contains(p.Timeline, "new dead letter in menu.order.placed")
	})

	// A SIGKILLed bee goes within 3 s: it stops answering at once, while
	// its registry record stays until its session ends (4 s).
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	waitFor(3*time.Second, "the killed bee gone", func(p pageState) bool {
		bee, ok := p.bee(first.Process.Pid)
		return !ok || bee.State != "up"
	})
	t.Logf("the killed bee went from the page %v after SIGKILL", time.Since(killed).Round(10*time.Millisecond))
	if path := os.Getenv("HIVE_WEB_SCREENSHOT"); path != "" {
		require.NoError(t, b.Screenshot(path))
	}

	// A restarted bee comes.
	third := startBee(t, env, "menu")
	waitFor(20*time.Second, "the new bee", func(p pageState) bool {
		bee, ok := p.bee(third.Process.Pid)
		return ok && bee.State == "up" && strings.Contains(p.Timeline, "joined")
	})
	_, ok := page.bee(second.Process.Pid)
	require.True(t, ok, "the bee that lives on is not on the page")
	require.Greater(t, page.Frames, framesBefore, "the page was not sent a new picture")

	// In dark mode, the page is dark.
	require.NoError(t, b.PreferColorScheme("dark"))
	var background string
	require.NoError(t, b.Eval(`getComputedStyle(document.body).backgroundColor`, &background))
	require.Equal(t, "rgb(13, 13, 13)", background, "the page ignores dark mode")
	if path := os.Getenv("HIVE_WEB_SCREENSHOT"); path != "" {
		require.NoError(t, b.Screenshot(strings.TrimSuffix(path, ".png")+"-dark.png"))
	}
}

// startBee starts an instance of service (menu or front) as a process of its own (this test
// binary, see TestMain), which the test can kill; the test's cleanup
// stops it.
func startBee(t *testing.T, env []string, service string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(slices.Clone(env), serviceEnv+"="+service)
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}
