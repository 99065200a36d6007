package hivetest

import "time"

// pollInterval is how long Eventually waits between two checks: short, so
// that a test goes on soon after the thing it waits for has happened.
const pollInterval = 20 * time.Millisecond

// Eventually waits for something that happens elsewhere (in a service, a
// broker, another goroutine) without sleeping for a guessed time: it calls
// check every 20ms until check returns nil, and returns nil then. If check
// still fails when timeout has passed, Eventually returns check's last
// error, which says how far things got.
//
// It takes no *testing.T, so the test itself says what went wrong and what
// to do about it:
//
//	err := hivetest.Eventually(5*time.Second, func() error {
//		if got := len(sent()); got != 2 {
//			return fmt.Errorf("%d notifications sent, want 2", got)
//		}
//		return nil
//	})
//	if err != nil {
//		t.Fatalf("Task 5: the notifier did not send both notifications: %v", err)
//	}
func Eventually(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pollInterval) // the polling interval, not a wait for an outcome
	}
}
