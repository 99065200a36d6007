package hivetest

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestEventuallyReturnsOnceCheckHolds(t *testing.T) {
	calls := 0
	err := Eventually(5*time.Second, func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Eventually = %v after %d calls; want nil after 3", err, calls)
	}
}

func TestEventuallyReturnsTheLastErrorAfterTheTimeout(t *testing.T) {
	calls := 0
	err := Eventually(0, func() error {
		calls++
		return fmt.Errorf("not yet (call %d)", calls)
	})
	if err == nil || err.Error() != fmt.Sprintf("not yet (call %d)", calls) {
		t.Fatalf("Eventually = %v after %d calls; want the last call's error", err, calls)
	}
}

func TestEventuallyChecksAtLeastOnce(t *testing.T) {
	if err := Eventually(-time.Second, func() error { return nil }); err != nil {
		t.Fatalf("Eventually with a past deadline and a check that holds = %v; want nil", err)
	}
	want := errors.New("never")
	if err := Eventually(-time.Second, func() error { return want }); err != want {
		t.Fatalf("Eventually = %v; want %v", err, want)
	}
}
