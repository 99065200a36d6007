package ledger

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
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
	servers, namespace := hivetest.ZooKeeper(t), hivetest.Namespace(t)
	open := func() Ledger {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l, err := Dial(ctx, servers, namespace, nil)
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		return l
	}
	cleaner := open().(*ZooKeeper)
	t.Cleanup(func() {
		assert.NoError(t, cleaner.DeleteNamespace(context.Background()))
	})
	testLedger(t, open)
}

func TestDialFailsWhenNothingAnswers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, err := Dial(ctx, []string{"127.0.0.1:1"}, "test", quiet)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "make up", "the error should say how to start ZooKeeper")
}

func TestBadKeysAreRefused(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "/orders", "orders/", "orders//a", "orders/..", "orders/a b", "orders/ä"} {
		_, _, err := NewMemory().Claim(context.Background(), key, nil)
		assert.Error(t, err, "the key %q was accepted", key)
	}
	assert.NoError(t, CheckKey("orders/lunch-42_b.1"))
}

// testLedger checks the promises of Ledger; open returns a ledger on the
// same store each time it is called.
func testLedger(t *testing.T, open func() Ledger) {
	ctx := context.Background()
	a, b := open(), open()

	t.Run("the first claim wins, the second gets its value", func(t *testing.T) {
		existing, claimed, err := a.Claim(ctx, "orders/k1", []byte("first"))
		require.NoError(t, err)
		assert.True(t, claimed)
		assert.Nil(t, existing)

		existing, claimed, err = b.Claim(ctx, "orders/k1", []byte("second"))
		require.NoError(t, err)
		assert.False(t, claimed)
		assert.Equal(t, "first", string(existing))

		value, found, err := b.Get(ctx, "orders/k1")
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, "first", string(value))
	})

	t.Run("a key without a value is not found", func(t *testing.T) {
		value, found, err := a.Get(ctx, "orders/nobody")
		require.NoError(t, err)
		assert.False(t, found)
		assert.Nil(t, value)
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
				assert.NoError(t, err)
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
		assert.Len(t, winners, 1, "winners: %v", winners)
	})

	t.Run("list gives the keys of a folder with their values", func(t *testing.T) {
		_, _, err := a.Claim(ctx, "kitchen/o1", []byte("x"))
		require.NoError(t, err)
		_, _, err = b.Claim(ctx, "kitchen/o2", nil)
		require.NoError(t, err)
		_, _, err = b.Claim(ctx, "kitchen/o2/deeper", nil)
		require.NoError(t, err)

		list, err := a.List(ctx, "kitchen")
		require.NoError(t, err)
		assert.Equal(t, map[string][]byte{"o1": []byte("x"), "o2": {}}, list)

		list, err = a.List(ctx, "empty")
		require.NoError(t, err)
		assert.Empty(t, list)
	})

	t.Run("an ended context is an error", func(t *testing.T) {
		ended, cancel := context.WithCancel(ctx)
		cancel()
		_, _, err := a.Claim(ended, "orders/late", nil)
		require.ErrorIs(t, err, context.Canceled)
		_, found, err := b.Get(ctx, "orders/late")
		require.NoError(t, err)
		assert.False(t, found, "a claim with an ended context happened anyway")
	})
}
