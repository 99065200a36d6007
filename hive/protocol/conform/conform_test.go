package conform_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/protocol/conform"
)

type (
	cookRequest struct {
		Dish int `json:"dish"`
	}
	orderPlaced struct {
		Dish int `json:"dish"`
	}
)

// startKitchen starts a Go service that calls and events can reach, whose
// handler fails on dish 13.
func startKitchen(t *testing.T) (*hivetest.Network, *hive.Service) {
	n := brokertest.NewNetwork(t)
	svc := hive.New("kitchen")
	hive.Handle(svc, "cook", func(ctx context.Context, req cookRequest) (orderPlaced, error) {
		return orderPlaced(req), nil
	})
	hive.On(svc, "order.placed", func(ctx context.Context, e hive.Event[orderPlaced]) error {
		if e.Body.Dish == 13 {
			return errors.New("dish 13 always burns")
		}
		return nil
	})
	return n, n.Start(svc)
}

func target(t *testing.T, n *hivetest.Network, service string) conform.Target {
	return conform.Target{
		Service:   service,
		Namespace: n.Namespace,
		ZooKeeper: brokertest.ZooKeeper(t),
		AMQPURL:   brokertest.RabbitMQ(t),
		FailType:  "order.placed",
		FailBody:  `{"dish": 13}`,
	}
}

// A Go service keeps every rule, and every rule is checked.
func TestGoServiceConforms(t *testing.T) {
	n, _ := startKitchen(t)
	report := conform.Check(t.Context(), target(t, n, "kitchen"))
	if !report.OK() {
		t.Errorf("a Go service breaks the protocol:\n%s", report)
	}
	for _, r := range report {
		if r.Skipped != "" {
			t.Errorf("not checked: %s: %s", r.Rule, r.Skipped)
		}
	}
	t.Logf("\n%s", report)
}
