package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// The ledger is given code, not a task: these tests show what it promises,
// on both stores.

func TestMemory(t *testing.T) {
	t.Parallel()
	l := NewMemory()
	testLedger(t, func() Ledger { return l })
}

// Each "process" gets a ledger of its own, with its own ZooKeeper session,
// as the instances of a beehive do.
func TestZooKeeper(t *testing.T) {
	t.Parallel()
	servers, namespace := brokertest.ZooKeeper(t), hivetest.Namespace(t)
	open := func() Ledger {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l, err := Dial(ctx, servers, namespace, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	cleaner := open().(*ZooKeeper)
	t.Cleanup(func() {
		if err := cleaner.DeleteNamespace(context.Background()); err != nil {
			t.Error(err)
		}
	})
	testLedger(t, open)
}

func TestDialFailsWhenNothingAnswers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, err := Dial(ctx, []string{"127.0.0.1:1"}, "test", quiet)
	if err == nil || !strings.Contains(err.Error(), "make up") {
		t.Fatalf("Dial with no ZooKeeper = %v; want an error that says how to start ZooKeeper (make up)", err)
	}
}

func TestBadKeysAreRefused(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "/orders", "orders/", "orders//a", "orders/..", "orders/a b", "orders/ä"} {
		if _, _, err := NewMemory().Claim(context.Background(), key, nil); err == nil {
			t.Errorf("the key %q was accepted", key)
		}
	}
	if err := CheckKey("orders/lunch-42_b.1"); err != nil {
		t.Errorf("CheckKey refused a good key: %v", err)
	}
}

// testLedger checks the promises of Ledger; open returns a ledger on the
// same store each time it is called.
func testLedger(t *testing.T, open func() Ledger) {
	ctx := context.Background()
	a, b := open(), open()

	t.Run("the first claim wins, the second gets its value", func(t *testing.T) {
		existing, claimed, err := a.Claim(ctx, "orders/k1", []byte("first"))
		if err != nil || !claimed || existing != nil {
			t.Fatalf("the first Claim = %q, %v, %v; want nil, true, nil", existing, claimed, err)
		}

		existing, claimed, err = b.Claim(ctx, "orders/k1", []byte("second"))
		if err != nil || claimed || string(existing) != "first" {
			t.Fatalf("the second Claim = %q, %v, %v; want \"first\", false, nil", existing, claimed, err)
		}

		value, found, err := b.Get(ctx, "orders/k1")
		if err != nil || !found || string(value) != "first" {
			t.Fatalf("Get = %q, %v, %v; want \"first\", true, nil", value, found, err)
		}
	})

	t.Run("a key without a value is not found", func(t *testing.T) {
		value, found, err := a.Get(ctx, "orders/nobody")
		if err != nil || found || value != nil {
			t.Fatalf("Get = %q, %v, %v; want nil, false, nil", value, found, err)
		}
	})

	t.Run("of many claims at once, exactly one wins", func(t *testing.T) {
		const claimers = 20
		var wg sync.WaitGroup
		won := make(chan string, claimers)
		for i := range claimers {
			l := a
			if i%2 == 1 {
				l = b
			}
			wg.Go(func() {
				_, claimed, err := l.Claim(ctx, "cooked/race", fmt.Appendf(nil, "claimer %d", i))
				if err != nil {
					t.Errorf("claimer %d: %v", i, err)
				}
				if claimed {
					won <- fmt.Sprint(i)
				}
			})
		}
		wg.Wait()
		close(won)
		var winners []string
		for w := range won {
			winners = append(winners, w)
		}
		if len(winners) != 1 {
			t.Errorf("the claimers that won: %v; want exactly one", winners)
		}
	})

	t.Run("list gives the keys of a folder with their values", func(t *testing.T) {
		for _, claim := range []struct {
			l     Ledger
			key   string
			value []byte
		}{{a, "kitchen/o1", []byte("x")}, {b, "kitchen/o2", nil}, {b, "kitchen/o2/deeper", nil}} {
			if _, _, err := claim.l.Claim(ctx, claim.key, claim.value); err != nil {
				t.Fatalf("Claim %s: %v", claim.key, err)
			}
		}

		list, err := a.List(ctx, "kitchen")
		want := map[string][]byte{"o1": []byte("x"), "o2": {}}
		if err != nil || !maps.EqualFunc(list, want, bytes.Equal) {
			t.Fatalf("List(kitchen) = %q, %v; want %q, nil", list, err, want)
		}

		list, err = a.List(ctx, "empty")
		if err != nil || len(list) != 0 {
			t.Fatalf("List(empty) = %q, %v; want nothing, nil", list, err)
		}
	})

	t.Run("an ended context is an error", func(t *testing.T) {
		ended, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := a.Claim(ended, "orders/late", nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("Claim with an ended context = %v; want context.Canceled", err)
		}
		_, found, err := b.Get(ctx, "orders/late")
		if err != nil || found {
			t.Fatalf("Get after a claim with an ended context = %v, %v; want false, nil: the claim happened anyway", found, err)
		}
	})
}
