package chaos

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Print writes the report for people: what happened, the numbers per
// instance, and the audit's verdict.
func (r *Report) Print(w io.Writer) {
	accepted, retried, extra := 0, 0, 0
	placedBy := make(map[string]int)
	for _, res := range r.Results {
		extra += res.Attempts - 1
		if res.Attempts > 1 {
			retried++
		}
		if res.Err == nil {
			accepted++
			placedBy[res.Reply.PlacedBy]++
		}
	}
	cookedBy := make(map[string]int)
	for _, kitchen := range r.Cooked {
		cookedBy[kitchen]++
	}

	fmt.Fprintf(w, "\nThe beehive, %s at %.0f orders a second: %s killed", r.Elapsed.Round(time.Second), r.Rate, plural(len(r.Kills), "bee"))
	if len(r.Incidents) > 0 {
		fmt.Fprintf(w, ", %s", plural(len(r.Incidents), "more incident"))
	}
	fmt.Fprintln(w, ".")
	happenings := slices.Concat(r.Kills, r.Incidents)
	slices.SortStableFunc(happenings, func(a, b Happening) int { return cmp.Compare(a.At, b.At) })
	for _, h := range happenings {
		fmt.Fprintf(w, "  at %4.1fs  %s\n", h.At.Seconds(), h.What)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  the customer   %d orders placed: %d accepted, %d failed; %d after a retry (%s); the slowest took %s\n",
		len(r.Results), accepted, len(r.Results)-accepted, retried, plural(extra, "extra attempt"), r.Slowest.Round(time.Millisecond))
	fmt.Fprintf(w, "  the kitchens   %d orders cooked, says the ledger", len(r.Cooked))
	if r.FailedButRecorded > 0 {
		fmt.Fprintf(w, " (%d of them failed for the customer, but were recorded: the same key again would have found them)", r.FailedButRecorded)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  the news       %d \"order.placed\" and %d \"order.cooked\" events heard (an event heard twice is the same news again: fine)\n",
		r.HeardPlaced, r.HeardCooked)
	fmt.Fprintf(w, "  dead letters   %d\n\n", len(r.DeadLetters))

	killed := make(map[string]bool)
	for _, k := range r.Kills {
		killed[k.Instance] = true
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  instance\tplaced\tcooked\t\t")
	for _, id := range instances(placedBy, cookedBy) {
		note := ""
		if killed[id] {
			note = "killed"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", id, count(placedBy[id]), count(cookedBy[id]), note)
	}
	tw.Flush()

	f := r.Findings
	fmt.Fprintf(w, "\n  lost %d · doubled %d · cooked twice %d · not announced %d · failed %d · dead letters %d\n",
		len(f.Lost), len(f.Doubled), len(f.CookedTwice), len(f.Unannounced), len(f.Failed), len(r.DeadLetters))
	for _, problem := range r.Problems() {
		fmt.Fprintf(w, "  ✗ %s\n", problem)
	}
	if r.OK() {
		fmt.Fprintln(w, "  ✔ Nothing lost, nothing doubled.")
	}
}

// Problems says in words what went wrong, one line per kind of problem,
// with a few examples each; nothing if all went well.
func (r *Report) Problems() []string {
	var lines []string
	add := func(list []string, what string) {
		if len(list) > 0 {
			lines = append(lines, fmt.Sprintf("%d %s, such as %s", len(list), what, strings.Join(list[:min(3, len(list))], ", ")))
		}
	}
	f := r.Findings
	add(f.Failed, "orders failed for the customer (keys)")
	add(f.Lost, "accepted orders were never cooked")
	add(f.Doubled, "orders were cooked that the customer was never told about: doubles")
	add(f.CookedTwice, "orders were announced as cooked by two kitchens")
	add(f.Unannounced, `cooked orders were never announced with "order.cooked"`)
	if !r.Settled {
		lines = append(lines, "the beehive did not settle: not every accepted order was cooked and announced in time")
	}
	if n := len(r.DeadLetters); n > 0 {
		lines = append(lines, fmt.Sprintf("%d events ended in the dead letters, such as: %s", n, r.DeadLetters[0].Reason))
	}
	return lines
}

// instances returns the keys of placedBy, sorted, then those of cookedBy.
func instances(placedBy, cookedBy map[string]int) []string {
	return append(slices.Sorted(maps.Keys(placedBy)), slices.Sorted(maps.Keys(cookedBy))...)
}

func count(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// plural says "1 bee" or "3 bees".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
