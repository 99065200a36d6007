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
// Test files have no solution blocks, so exercise and solution run the same
// tests, and an exercise cannot drift from its solution.
//
// The solution blocks are also the answers that make hint TASK=N CODE=1
// shows: a block belongs to the task of the nearest TODO comment above it,
// unless its BEGIN line names its tasks, as in "// BEGIN SOLUTION (tasks
// 1, 2, 3)".
//
// Usage (from the repository's top folder, usually through make):
//
//	go run ./internal/workshop/exercises generate   # write stepNN-* from solutions/
//	go run ./internal/workshop/exercises check      # fail if any exercise is stale, or passes a task
//	go run ./internal/workshop/exercises status     # a table of tasks passed, per step
//	go run ./internal/workshop/exercises solve DIR  # write a step's solution into its folder, to catch up
//
// Imports of a step's own packages (solutions/step05-beehive/ledger) are
// moved to the exercise's (step05-beehive/ledger) in both cases, in test
// files too: nothing in a step folder imports solutions/ (check says so if
// something does), so that the steps work in a clone without it.
//
// In a step folder (exercise or solution), through the step's Makefile:
//
//	exercises test             # make test: run the step's tests, end with what to do next
//	exercises test -further    # make further: the step's going-further task
//	exercises watch            # make watch: run the tests again whenever a .go file is saved
//	exercises hint [-code] [N] # make hint TASK=N: the README's hint for task N (-code: the solution's code; no N: the tasks)
//
// From the top folder, -step names the step: exercises hint -step step02-rpc 3.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const usage = `usage: go run ./internal/workshop/exercises <command>

commands:
  generate   write every stepNN-* folder from solutions/stepNN-*
  check      fail if a generated folder is stale, if an exercise does not
             compile or vet, or if a task's tests do not fail in the exercise
  status [-chaos]
             show how many tasks of each step pass, from the tests, a step
             at a time; -chaos runs step 5's chaos test too
  solve DIR  write the solution of step DIR (e.g. step02-rpc) into its
             folder, to catch up; files you added stay

in a step folder, or from the top folder with -step DIR:
  test [-further]
             run the step's tests and end with what to do next; -further
             runs only the going-further task's tests
  watch [-further]
             run the tests again whenever a .go file of the step changes,
             and show only what to do next
  hint [-code] [TASK]
             show the README's hint for task TASK (a number, or further);
             -code shows the code too, from solutions/; without TASK,
             list the step's tasks
`

// errNotGreen ends a run whose tests failed: the output said why already.
var errNotGreen = errors.New("not green")

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	flags := flag.NewFlagSet(cmd, flag.ExitOnError)
	flags.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	stepName := flags.String("step", "", "the step `DIR`, from the top folder")
	furtherOnly := flags.Bool("further", false, "run only the going-further task's tests")
	code := flags.Bool("code", false, "show the code too, from solutions/")
	chaos := flags.Bool("chaos", false, "make status runs step 5's chaos test too")
	flags.Parse(args)

	var err error
	switch cmd {
	case "solve":
		if flags.NArg() != 1 {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		err = solve(".", flags.Arg(0))
	case "generate":
		err = generateAll(".")
	case "check":
		err = check(".")
	case "status":
		err = status(".", *chaos)
	case "test", "watch", "hint":
		var dir string
		var s Step
		dir, s, err = findStep(*stepName)
		if err != nil {
			break
		}
		switch cmd {
		case "test":
			err = testStep(dir, s, runOptions{Further: *furtherOnly})
		case "watch":
			err = watch(dir, s, runOptions{Further: *furtherOnly})
		case "hint":
			err = printHint(os.Stdout, dir, s, flags.Arg(0), *code)
		}
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if errors.Is(err, errNotGreen) {
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "exercises:", err)
		os.Exit(1)
	}
}

// testStep is make test: the step's tests as they run, then the recap.
func testStep(dir string, s Step, opts runOptions) error {
	r, err := runStep(dir, s, opts, os.Stdout)
	if err != nil {
		return err
	}
	if err := r.recap(os.Stdout, dir); err != nil {
		return err
	}
	if !r.green() {
		return errNotGreen
	}
	return nil
}

// findStep returns the step to work on and its folder: the step named
// (step02-rpc, step02 or 2), whose folder is in the current one, or else
// the step whose folder (exercise or solution) is the current one.
func findStep(name string) (dir string, s Step, err error) {
	if name == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", Step{}, err
		}
		for _, s := range steps {
			if filepath.Base(wd) == s.Dir {
				return ".", s, nil
			}
		}
		return "", Step{}, fmt.Errorf("%s is not a step's folder: run this in one (cd %s), or name the step (STEP=%s)", wd, steps[0].Dir, steps[0].Dir)
	}
	var names []string
	for _, s := range steps {
		if name == s.Dir || name == s.Dir[:6] || "step0"+name == s.Dir[:6] {
			return s.Dir, s, nil
		}
		names = append(names, s.Dir)
	}
	return "", Step{}, fmt.Errorf("there is no step %q; the steps are %s", name, strings.Join(names, ", "))
}
