// Package ledger records facts once, for all the instances of all the
// services of a beehive: "order 7F3K is cooked", "the customer's key
// lunch-42 is order 7F3K".
//
// The one thing a ledger does is Claim: write a value under a key, unless
// the key has one already. The first claim of a key wins, for good; every
// later claim gets the first value back instead. That makes it the tool for
// doing things once in a world where everything may happen twice:
//
//	existing, claimed, err := l.Claim(ctx, "cooked/"+orderID, record)
//	if !claimed {
//		// Somebody did it before us; existing says what they recorded.
//	}
//
// Two implementations share the Ledger interface: ZooKeeper, for instances
// in separate processes, and Memory, for one process (tests, the demo).
//
// This package is given: you use it in this step, you do not write it.
package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Ledger records facts once. Keys are paths: words separated by "/", such
// as "orders/lunch-42" or "cooked/7F3K". Implementations are safe for
// concurrent use.
type Ledger interface {
	// Claim stores value under key if the key has no value yet, and
	// reports claimed = true. If the key has a value already, Claim
	// changes nothing and returns that value as existing, with claimed =
	// false.
	//
	// An error means that the ledger could not be asked, and that the
	// claim may or may not have happened: a network can break after the
	// store wrote the value but before the answer arrived. Ask again
	// later; if it had happened, you get your own value back as existing.
	Claim(ctx context.Context, key string, value []byte) (existing []byte, claimed bool, err error)

	// Get returns the value of key, and found = false if it has none.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)

	// List returns every key directly under folder ("cooked"), without
	// the folder, with its value.
	List(ctx context.Context, folder string) (map[string][]byte, error)
}

// CheckKey returns an error that says what is wrong with key, or nil. A
// key is one or more words separated by "/" (see CheckWord).
func CheckKey(key string) error {
	for word := range strings.SplitSeq(key, "/") {
		if word == "" {
			return fmt.Errorf("ledger: key %q will not do: it is empty, or has an empty part", key)
		}
		if err := CheckWord(word); err != nil {
			return fmt.Errorf("ledger: key %q will not do: %w", key, err)
		}
	}
	return nil
}

// CheckWord returns an error that says what is wrong with word as a part
// of a key, or nil. A word is made of letters, digits, "-", "_" and ".",
// is not "." or "..", and is at most 200 characters long. (ZooKeeper, one
// of the stores, allows more, but not everything: the rule keeps every
// store happy.)
func CheckWord(word string) error {
	switch word {
	case "":
		return errors.New("it is empty")
	case ".", "..":
		return fmt.Errorf("%q is not allowed", word)
	}
	if len(word) > 200 {
		return fmt.Errorf("it is %d characters long; 200 at the most", len(word))
	}
	for _, r := range word {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("it holds %q; use letters, digits, '-', '_' and '.'", r)
		}
	}
	return nil
}

// Memory is a Ledger in the memory of one process. All the instances that
// share it must run in that process.
type Memory struct {
	mu     sync.Mutex
	values map[string][]byte
}

var _ Ledger = (*Memory)(nil)

// NewMemory returns an empty ledger in memory.
func NewMemory() *Memory {
	return &Memory{values: make(map[string][]byte)}
}

// Claim stores value under key unless key has a value; see Ledger.
func (m *Memory) Claim(ctx context.Context, key string, value []byte) ([]byte, bool, error) {
	if err := CheckKey(key); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("ledger: claim %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Looking and storing under one lock is what makes a claim atomic:
	// two claims of one key cannot both find it free.
	if existing, ok := m.values[key]; ok {
		return clone(existing), false, nil
	}
	m.values[key] = clone(value)
	return nil, true, nil
}

// Get returns the value of key; see Ledger.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := CheckKey(key); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	value, ok := m.values[key]
	if !ok {
		return nil, false, nil
	}
	return clone(value), true, nil
}

// List returns the keys directly under folder, with their values; see
// Ledger.
func (m *Memory) List(ctx context.Context, folder string) (map[string][]byte, error) {
	if err := CheckKey(folder); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	list := make(map[string][]byte)
	for key, value := range m.values {
		name, ok := strings.CutPrefix(key, folder+"/")
		if ok && !strings.Contains(name, "/") {
			list[name] = clone(value)
		}
	}
	return list, nil
}

// clone copies b, so that no caller can change what the ledger holds. A
// claim with a nil value stores an empty one: "the key is claimed" is the
// fact, even without a value.
func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return bytes.Clone(b)
}
