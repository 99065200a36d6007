package main

import (
	"fmt"
	"strings"
)

// status prints a table of the steps with their tasks passed out of total,
// from running each exercise's tests as they stand.
func status(root string) error {
	fmt.Printf("%-18s %-28s %-7s %s\n", "STEP", "", "TASKS", "")
	for _, s := range steps {
		r, err := goTest(s.Dir)
		if err != nil {
			return err
		}
		byTask := r.tasks()
		done, skipped := 0, 0
		for _, names := range byTask {
			passed := true
			for _, name := range names {
				switch r.Tests[name].Action {
				case "skip":
					skipped++
					passed = false
				case "pass":
				default:
					passed = false
				}
			}
			if passed {
				done++
			}
		}
		total := len(byTask)
		note := strings.Repeat("■", done) + strings.Repeat("□", total-done)
		switch {
		case total == 0 && r.ExitCode != 0:
			note = "does not compile: run `make test` in " + s.Dir + " to see why"
		case skipped > 0:
			note = "needs " + s.Needs + ": run `make up`"
		case done == total:
			note += "  done"
		}
		fmt.Printf("%-18s %-28s %d/%-5d %s\n", s.Dir, s.Title, done, total, note)
	}
	return nil
}
