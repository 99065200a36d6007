// Package conform checks that a running service, written in any
// language, keeps the hive wire protocol (PROTOCOL.md): black box, through
// the brokers and HTTP only, as another service would meet it. It reads
// the service's registry records, calls it with the edge cases of the
// protocol (bad JSON, an unknown method, another service's name, bad
// timeouts, an oversize body, other HTTP methods, the built-ins), and, for
// a service that consumes events, sends messages that are not events and
// an event it fails on, and looks for them in its dead-letter queue.
//
// Check returns a Report: a checklist of rules, each with the section of
// PROTOCOL.md it comes from. "hive conform" prints it; a Go test can
// fail on it:
//
//	report := conform.Check(ctx, conform.Target{Service: "pycounter", ...})
//	if !report.OK() {
//		t.Error(report)
//	}
//
// The checks leave the service as they found it, except for its counters
// and for what they send it: the events they publish end in its
// dead-letter queue, from which Check takes them again (and only them).
package conform

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Target says which service to check, and where.
type Target struct {
	// Service is the name of the service to check.
	Service string

	// Namespace is the hive the service runs in (HIVE_NAMESPACE).
	Namespace string

	// ZooKeeper lists the ZooKeeper servers, host:port each.
	ZooKeeper []string

	// AMQPURL is RabbitMQ's address. Empty: the event checks are skipped.
	AMQPURL string

	// Instance picks the instance whose endpoint the RPC and event checks
	// use, by its id. Empty: the first usable record, by id.
	Instance string

	// FailType and FailBody make an event that the service's handler
	// fails on, every time it gets it (a body it refuses, say), so that
	// Check can watch it go through the retries to the dead letters.
	// Empty FailType: that check is skipped.
	FailType string
	FailBody string

	// Wait is how long Check waits for a dead letter. Default 2 minutes:
	// a failing event reaches the dead letters after the whole retry
	// schedule of the service (hive's default: 91 s).
	Wait time.Duration
}

// A Result is one rule of the checklist, and how the service kept it.
type Result struct {
	Section string // the heading of PROTOCOL.md the rule comes from
	Rule    string // what was checked, in a few words
	Err     error  // why the rule was broken; nil if it held
	Skipped string // why the rule was not checked, if it was not
}

// A Report is the checklist of one Check, in the order of the checks.
type Report []Result

// OK reports whether no rule was broken (skipped ones do not count).
func (r Report) OK() bool {
	for _, res := range r {
		if res.Err != nil {
			return false
		}
	}
	return true
}

// Failed returns the rules that were broken.
func (r Report) Failed() []Result {
	var failed []Result
	for _, res := range r {
		if res.Err != nil {
			failed = append(failed, res)
		}
	}
	return failed
}

// Write writes the checklist: ✓ for a rule kept, ✗ and why for a rule
// broken, – and why for a rule not checked; then a summary line.
func (r Report) Write(w io.Writer) error {
	var kept, broken, skipped int
	var b strings.Builder
	for _, res := range r {
		switch {
		case res.Err != nil:
			broken++
			fmt.Fprintf(&b, "✗ %s  (PROTOCOL.md: %s)\n    %s\n", res.Rule, res.Section, strings.ReplaceAll(res.Err.Error(), "\n", "\n    "))
		case res.Skipped != "":
			skipped++
			fmt.Fprintf(&b, "– %s  (PROTOCOL.md: %s)\n    not checked: %s\n", res.Rule, res.Section, res.Skipped)
		default:
			kept++
			fmt.Fprintf(&b, "✓ %s  (PROTOCOL.md: %s)\n", res.Rule, res.Section)
		}
	}
	fmt.Fprintf(&b, "\n%d rules kept, %d broken, %d not checked.\n", kept, broken, skipped)
	_, err := io.WriteString(w, b.String())
	return err
}

// String returns the checklist as Write writes it.
func (r Report) String() string {
	var b strings.Builder
	r.Write(&b)
	return b.String()
}

// Check checks the service of t against the protocol. It stops early only
// when there is nothing left to check: no record, say, means no endpoint
// to call. Errors in reaching the brokers are broken rules too, with
// what went wrong.
func Check(ctx context.Context, t Target) Report {
	if t.Wait <= 0 {
		t.Wait = 2 * time.Minute
	}
	c := &checker{t: t}
	inst, ok := c.registry(ctx)
	if !ok {
		return c.report
	}
	info, ok := c.rpc(ctx, inst)
	if !ok {
		c.skip("Events, Consuming, and failing correctly", "events that are not events, and events that fail, go to the dead letters",
			"inspect did not say which events the service takes")
		return c.report
	}
	c.events(ctx, info)
	return c.report
}

// checker collects the results of one Check.
type checker struct {
	t      Target
	report Report
}

// check records the result of one rule: err nil if it held.
func (c *checker) check(section, rule string, err error) bool {
	c.report = append(c.report, Result{Section: section, Rule: rule, Err: err})
	return err == nil
}

// need records a failure to get at what the rules need (a broker, a
// schema), if err is one; what works is no rule of the protocol.
func (c *checker) need(section, what string, err error) bool {
	if err != nil {
		c.check(section, what, err)
	}
	return err == nil
}

// skip records a rule that could not be checked, and why.
func (c *checker) skip(section, rule, why string) {
	c.report = append(c.report, Result{Section: section, Rule: rule, Skipped: why})
}
