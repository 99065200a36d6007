// Command exercises keeps the workshop's exercises and solutions in step.
//
// The solutions are the single source of truth. Each exercise folder,
// stepNN-*, is generated from solutions/stepNN-*: every file is copied as
// it is, except that in Go files the code between
//
//	// BEGIN SOLUTION
//	...the solution...
//	// STUB
//	// ...what the attendee starts from, commented out...
//	// END SOLUTION
//
// is replaced by the STUB part, uncommented (the STUB part is optional).
// Test files therefore cannot differ, and an exercise cannot drift from its
// solution.
//
// Usage (from the repository's top folder, usually through make):
//
//	go run ./internal/workshop/exercises generate   # write stepNN-* from solutions/
//	go run ./internal/workshop/exercises check      # fail if any exercise is stale, or passes a task
//	go run ./internal/workshop/exercises status     # a table of tasks passed, per step
//	go run ./internal/workshop/exercises solve DIR  # write a step's solution into its folder, to catch up
//
// Imports of a step's own packages (solutions/step05-beehive/ledger) are
// moved to the exercise's (step05-beehive/ledger) in both cases.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: go run ./internal/workshop/exercises <command>

commands:
  generate   write every stepNN-* folder from solutions/stepNN-*
  check      fail if a generated folder is stale, if an exercise does not
             compile or vet, or if a task's tests do not fail in the exercise
  status     show how many tasks of each step pass, from the tests
  solve DIR  write the solution of step DIR (e.g. step02-rpc) into its
             folder, to catch up; files you added stay
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "solve":
		if len(os.Args) != 3 {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		err = solve(".", os.Args[2])
	case "generate":
		err = generateAll(".")
	case "check":
		err = check(".")
	case "status":
		err = status(".")
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "exercises:", err)
		os.Exit(1)
	}
}
