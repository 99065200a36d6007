package hive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// statusOf is the HTTP status that goes with each error code: the codes a
// caller can get, and nothing else.
var statusOf = map[hive.Code]int{
	hive.BadRequest:  http.StatusBadRequest,
	hive.NotFound:    http.StatusNotFound,
	hive.Conflict:    http.StatusConflict,
	hive.Unavailable: http.StatusServiceUnavailable,
	hive.Timeout:     http.StatusGatewayTimeout,
	hive.Internal:    http.StatusInternalServerError,
}

// FuzzRPC sends any method name and any body to a running instance, over
// loopback, as curl or a broken client could. Whatever it sends, the
// instance answers 200 with JSON, or with a well-formed error envelope
// whose code is one of hive's and whose HTTP status fits the code; it
// never panics or hangs, and it goes on serving.
//
// The seeds are in testdata/fuzz/FuzzRPC; `go test` runs them, and
// `go test -fuzz=FuzzRPC` looks for more.
func FuzzRPC(f *testing.F) {
	n := hivetest.NewNetwork(f)
	cfg := n.Config()
	cfg.Logger = slog.New(slog.DiscardHandler) // millions of calls; the failures are expected
	cfg.MaxBodyBytes = 4096
	endpoint := n.StartWith(fuzzedService(), cfg).Endpoint()

	client := &http.Client{
		Timeout: 10 * time.Second, // a hang fails the input instead of stopping the fuzzer
		// A redirect is an answer too: one that is neither a response nor
		// an error envelope.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	f.Cleanup(client.CloseIdleConnections)

	f.Fuzz(func(t *testing.T, method string, body []byte) {
		// The method name goes into the path as it is, "/" and all, as
		// curl sends it; only what a URL cannot hold is escaped.
		target := &url.URL{Scheme: "http", Host: endpoint, Path: "/rpc/" + method}
		status, answer := send(t, client, target.String(), body)
		if status == http.StatusOK {
			if !json.Valid(answer) {
				t.Fatalf("method %q: 200 with a body that is not JSON: %q", method, answer)
			}
		} else {
			checkEnvelope(t, method, status, answer)
		}

		if status, answer := send(t, client, "http://"+endpoint+"/rpc/ping", nil); status != http.StatusOK {
			t.Fatalf("after method %q, ping answers %d %q: the instance stopped serving", method, status, answer)
		}
	})
}

// fuzzedService has a method for each way a call can go: one that decodes
// a request of many shapes, one that fails, one that panics.
func fuzzedService() *hive.Service {
	type item struct {
		DishID   int               `json:"dish_id"`
		Quantity uint8             `json:"quantity"`
		Extras   map[string]string `json:"extras"`
	}
	type order struct {
		Customer string    `json:"customer"`
		Items    []item    `json:"items"`
		Tip      *float64  `json:"tip"`
		Due      time.Time `json:"due"`
		Raw      any       `json:"raw"`
	}
	svc := hive.New("fuzzed")
	hive.Handle(svc, "place", func(ctx context.Context, o order) (order, error) {
		if o.Customer == "" {
			return order{}, hive.Errorf(hive.BadRequest, "customer must not be empty")
		}
		return o, nil
	})
	hive.Handle(svc, "fail", func(ctx context.Context, _ struct{}) (struct{}, error) {
		return struct{}{}, errors.New("a plain error, not a *hive.Error")
	})
	hive.Handle(svc, "panic", func(ctx context.Context, _ struct{}) (struct{}, error) {
		panic("something broke")
	})
	return svc
}

// send posts body to target and returns the status and the body of the
// answer. No answer at all fails t.
func send(t *testing.T, client *http.Client, target string, body []byte) (int, []byte) {
	t.Helper()
	res, err := client.Post(target, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("no answer from %s: %v", target, err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the answer from %s: %v", target, err)
	}
	return res.StatusCode, answer
}

// checkEnvelope fails t unless answer is an error envelope, and nothing
// else, with a known code that fits the status and a message.
func checkEnvelope(t *testing.T, method string, status int, answer []byte) {
	t.Helper()
	var env struct {
		Error *struct {
			Code    hive.Code `json:"code"`
			Message string    `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(answer))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.Error == nil {
		t.Fatalf("method %q: %d without an error envelope (%v): %q", method, status, err, answer)
	}
	e := env.Error
	want, known := statusOf[e.Code]
	switch {
	case !known:
		t.Fatalf("method %q: unknown error code %q in %q", method, e.Code, answer)
	case status != want:
		t.Fatalf("method %q: code %s came with HTTP %d, want %d", method, e.Code, status, want)
	case e.Message == "":
		t.Fatalf("method %q: the error envelope has no message: %q", method, answer)
	}
}
