package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// The work both sides do: decode a small JSON request, answer a small JSON
// response.
type priceRequest struct {
	DishID   int `json:"dish_id"`
	Quantity int `json:"quantity"`
}

type priceReply struct {
	DishID     int    `json:"dish_id"`
	Name       string `json:"name"`
	TotalCents int    `json:"total_cents"`
}

func price(req priceRequest) priceReply {
	return priceReply{DishID: req.DishID, Name: "Margherita", TotalCents: 850 * req.Quantity}
}

// BenchmarkRPC calls a method over loopback with hive, and the same method
// with a plain net/http handler and http.Client, at the same concurrency.
// It reports throughput (req/s) and the p50 and p99 latency of a call.
func BenchmarkRPC(b *testing.B) {
	impls := []struct {
		name  string
		start func(b *testing.B) (call func(priceRequest) (priceReply, error))
	}{
		{"nethttp", startPlainRPC},
		{"hive", startHiveRPC},
	}
	for _, conc := range []int{8, 64} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("conc=%d/impl=%s", conc, impl.name), func(b *testing.B) {
				call := impl.start(b)
				op := func() error {
					reply, err := call(priceRequest{DishID: 7, Quantity: 2})
					if err == nil && reply.TotalCents != 1700 {
						err = fmt.Errorf("got %+v, want a total of 1700 cents", reply)
					}
					return err
				}
				warmUp(b, conc, op)
				b.ResetTimer()
				reportCPU := measureCPU(b)
				took := concurrently(b, conc, op)
				b.StopTimer()
				reportCPU()
				reportRate(b, "req")
				reportPercentiles(b, took, time.Microsecond, "µs")
			})
		}
	}
}

// startHiveRPC starts a hive service with one method, and returns a
// function that calls it through a hive.Client.
func startHiveRPC(b *testing.B) func(priceRequest) (priceReply, error) {
	n := hivetest.NewNetwork(b)
	svc := hive.New("menu")
	hive.Handle(svc, "price", func(ctx context.Context, req priceRequest) (priceReply, error) {
		return price(req), nil
	})
	cfg := n.Config()
	cfg.Logger = quiet
	n.StartWith(svc, cfg)

	client := hive.NewClient(n.Registry, hive.ClientOptions{Logger: quiet})
	b.Cleanup(func() { client.Close() })
	return func(req priceRequest) (priceReply, error) {
		var reply priceReply
		err := client.Call(context.Background(), "menu.price", req, &reply)
		return reply, err
	}
}

// startPlainRPC serves the same method with net/http and encoding/json,
// and returns a function that calls it with an http.Client. The client's
// transport has the settings of hive.Client's, so both keep the same
// connections alive; and like hive, each call has a deadline.
func startPlainRPC(b *testing.B) func(priceRequest) (priceReply, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /price", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req priceRequest
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		reply, err := json.Marshal(price(req))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(reply)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go server.Serve(ln)
	b.Cleanup(func() { server.Close() })

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
	b.Cleanup(client.CloseIdleConnections)
	url := "http://" + ln.Addr().String() + "/price"
	return func(req priceRequest) (priceReply, error) {
		var reply priceReply
		body, err := json.Marshal(req)
		if err != nil {
			return reply, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), hive.DefaultCallTimeout)
		defer cancel()
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return reply, err
		}
		r.Header.Set("Content-Type", "application/json")
		res, err := client.Do(r)
		if err != nil {
			return reply, err
		}
		defer res.Body.Close()
		data, err := io.ReadAll(res.Body)
		if err != nil {
			return reply, err
		}
		if res.StatusCode != http.StatusOK {
			return reply, errors.New(res.Status + ": " + string(data))
		}
		err = json.Unmarshal(data, &reply)
		return reply, err
	}
}
