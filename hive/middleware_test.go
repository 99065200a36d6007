package hive_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// journal records what middleware saw, from many goroutines.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(line string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, line)
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.lines...)
}

// tagged is a middleware that writes tag and what it saw into j, before
// and after the call.
func tagged(j *journal, tag string) hive.Middleware {
	return func(next hive.Handler) hive.Handler {
		return func(ctx context.Context, c *hive.Call) (any, error) {
			kind := "rpc"
			if c.Event != nil {
				kind = "event " + c.Event.Type
			}
			_, hasDeadline := ctx.Deadline()
			j.add(tag + " before " + c.Name + " (" + kind + ")")
			if hive.TraceID(ctx) == "" || !hasDeadline {
				j.add(tag + " saw no trace id or no deadline")
			}
			resp, err := next(ctx, c)
			j.add(tag + " after " + c.Name)
			return resp, err
		}
	}
}

func TestUseWrapsCallsAndEventsInOrder(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		var j journal
		handled := make(chan struct{}, 1)
		svc := greeter()
		hive.On(svc, "order.*", func(ctx context.Context, e hive.Event[orderPlaced]) error {
			j.add("handler " + e.Body.OrderID)
			handled <- struct{}{}
			return nil
		})
		svc.Use(tagged(&j, "outer"), tagged(&j, "inner"))
		n.Start(svc)

		var reply greetReply
		require.NoError(t, n.Call(context.Background(), "greeter.greet", greetRequest{Name: "Ada"}, &reply))
		assert.Equal(t, "Hello, Ada!", reply.Greeting)
		assert.Equal(t, []string{
			"outer before greet (rpc)",
			"inner before greet (rpc)",
			"inner after greet",
			"outer after greet",
		}, j.all(), "the first middleware added is the outermost")

		j = journal{}
		require.NoError(t, svc.Emit(context.Background(), "order.placed", orderPlaced{OrderID: "o-7"}))
		select {
		case <-handled:
		case <-time.After(patience):
			t.Fatal("the event was never handled")
		}
		require.Eventually(t, func() bool { return len(j.all()) == 5 }, patience, 10*time.Millisecond)
		assert.Equal(t, []string{
			"outer before order.* (event order.placed)",
			"inner before order.* (event order.placed)",
			"handler o-7",
			"inner after order.*",
			"outer after order.*",
		}, j.all(), "events pass through the same middleware, named after the handler's pattern")
	})
}

// authorized lets RPCs to greet through only with the right token; the
// built-ins and events pass.
func authorized(next hive.Handler) hive.Handler {
	return func(ctx context.Context, c *hive.Call) (any, error) {
		if c.Event == nil && c.Name == "greet" && c.Header.Get("Authorization") != "Bearer bee" {
			return nil, hive.Errorf(hive.BadRequest, "greet wants the header Authorization: Bearer <token>")
		}
		return next(ctx, c)
	}
}

func TestUseCanRejectACallWithAHiveError(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		svc := greeter()
		svc.Use(authorized)
		n.Start(svc)

		err := n.Call(context.Background(), "greeter.greet", greetRequest{Name: "Ada"}, nil)
		assert.ErrorIs(t, err, hive.ErrBadRequest, "the middleware's code must reach the caller")
		assert.ErrorContains(t, err, "greet wants the header Authorization")
		require.NoError(t, n.Call(context.Background(), "greeter.ping", nil, nil), "a call the middleware lets through")

		// Over plain HTTP, as curl calls: with the header, and without.
		req, err := http.NewRequest(http.MethodPost, "http://"+svc.Endpoint()+"/rpc/greet", strings.NewReader(`{"name": "curl"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer bee")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.JSONEq(t, `{"greeting":"Hello, curl!"}`, string(body))
		res = postWith(t, svc.Endpoint(), "greet", nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		assert.Equal(t, hive.BadRequest, decodeEnvelope(t, res).Code)

		s := instanceStatus(t, n, svc)
		assert.Equal(t, int64(2), s.Errors, "a rejected call counts as a failed call")
	})
}

func TestUseCanRefuseAnEvent(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		kitchen := hive.New("kitchen")
		hive.On(kitchen, "order.placed", func(ctx context.Context, e hive.Event[orderPlaced]) error {
			t.Error("the middleware refused the event: the handler must not see it")
			return nil
		})
		kitchen.Use(func(next hive.Handler) hive.Handler {
			return func(ctx context.Context, c *hive.Call) (any, error) {
				return nil, errors.New("the kitchen is closed")
			}
		})
		n.Start(kitchen)
		order := n.Start(hive.New("order"))
		ctx := context.Background()
		require.NoError(t, order.Emit(ctx, "order.placed", orderPlaced{OrderID: "o-8"}))

		require.Eventually(t, func() bool {
			dead, err := n.DeadLetters(ctx, "kitchen", "order.placed")
			return err == nil && len(dead) == 1 && strings.Contains(dead[0].Reason, "the kitchen is closed")
		}, patience, 20*time.Millisecond, "an event the middleware refuses is not handled: it ends in the dead letters")
	})
}

func TestUseMiddlewarePanicIsAnIncident(t *testing.T) {
	networks(t, func(t *testing.T, n *hivetest.Network) {
		svc := greeter()
		svc.Use(func(next hive.Handler) hive.Handler {
			return func(ctx context.Context, c *hive.Call) (any, error) {
				if c.Name == "greet" {
					panic("the middleware broke")
				}
				return next(ctx, c)
			}
		})
		n.Start(svc)

		res := postWith(t, svc.Endpoint(), "greet", nil)
		assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
		e := decodeEnvelope(t, res)
		assert.Equal(t, hive.Internal, e.Code)
		incident := regexp.MustCompile(`^an unexpected failure, incident ([0-9a-f]{16}): `).FindStringSubmatch(e.Message)
		require.NotNil(t, incident, "the answer must name the incident: %q", e.Message)
		assert.Regexp(t, `level=ERROR msg="handler panicked" .*method=greet incident=`+incident[1]+` panic="the middleware broke"`, n.Logs.String())
		require.NoError(t, n.Call(context.Background(), "greeter.ping", nil, nil), "the instance goes on serving")
	})
}

func TestUseAfterStartPanics(t *testing.T) {
	svc := hivetest.NewNetwork(t).Start(greeter())
	assert.Panics(t, func() { svc.Use(authorized) })
}
