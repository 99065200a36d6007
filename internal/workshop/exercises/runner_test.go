package main

import (
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecapNamesTheFirstTaskItsPlaceAndItsHint runs task 1 of every
// exercise as it is generated, where it fails, and checks that the recap
// at the end says which task, where its TODO comment is, and the README's
// nudge; the same for the going-further task, where a step has one. Only
// that task's tests run, in the package of its first TODO comment, so that
// the five steps take seconds; steps 3 to 5 need the brokers, and a skip
// fails like in CI.
func TestRecapNamesTheFirstTaskItsPlaceAndItsHint(t *testing.T) {
	for _, s := range steps {
		dir := filepath.Join("..", "..", "..", s.Dir)
		markers, err := findMarkers(dir, s)
		require.NoError(t, err)
		hints, err := readHints(dir)
		require.NoError(t, err)
		require.NotEmpty(t, markers["1"], "no TODO(%s) Task 1 comment in %s", s.Dir[:6], dir)
		for _, c := range []struct{ task, run, what string }{
			{"1", "^TestTask1_", "task 1"},
			{further, "^TestFurther_", "the going-further task"},
		} {
			if len(markers[c.task]) == 0 {
				continue
			}
			t.Run(s.Dir+"/"+c.task, func(t *testing.T) {
				t.Parallel()
				require.NotEmpty(t, hints[c.task].Nudge, "the README of %s has no hint for %s", s.Dir, taskName(c.task))
				one := s
				one.Packages = []string{"./" + path.Dir(markers[c.task][0].File)}
				var live, recap strings.Builder
				r, err := runStep(dir, one, runOptions{Run: c.run, Further: c.task == further, Env: []string{"HIVE_REQUIRE_BROKERS=1"}}, &live)
				require.NoError(t, err)
				require.NoError(t, r.recap(&recap, dir))

				assert.False(t, r.green())
				got := recap.String()
				assert.Contains(t, got, "Do this next, "+c.what+" of step "+s.Dir[5:6]+":", live.String())
				assert.Contains(t, got, taskWords(c.task))
				assert.Contains(t, got, "Where: "+markers[c.task][0].String())
				assert.Contains(t, got, indent(hints[c.task].Nudge, "  "))
				assert.Contains(t, got, "More: make hint TASK="+c.task)
			})
		}
	}
}

func TestRecap(t *testing.T) {
	step := Step{Dir: "step03-events", Needs: "RabbitMQ", Done: "All green: step 3 is done."}
	for _, c := range []struct {
		name string
		run  stepRun
		want string
	}{
		{"green", stepRun{Ran: 3}, "\nAll green: step 3 is done.\nNext: step 4, Discovery with ZooKeeper: cd ../step04-discovery and read its README.md.\n"},
		{"skipped", stepRun{Ran: 3, Skipped: 2, ExitCode: 0},
			"\n2 tests were skipped; SKIP above says why, usually that RabbitMQ is not running.\nRun `make up` in the repository's top folder, then `make test` here again.\n"},
		{"machine", stepRun{Ran: 1, ExitCode: 1, Failed: []failedTest{{Name: "TestTask5_Chaos", Task: "5", Output: "    chaos_test.go:9: the machine, not your code: rabbitmqctl is missing\n"}}},
			"\nNot green, but not because of your code: read \"the machine, not your code\" above, then run `make test` again.\n"},
		{"build", stepRun{ExitCode: 1, Build: true},
			"\nNot green yet: the code does not compile. The first error above says where (file:line).\n"},
		{"no task", stepRun{Ran: 1, ExitCode: 1, Failed: []failedTest{{Name: "TestHelper"}}},
			"\nNot green yet. Read the first failure above: it says what to do next.\n"},
		{"nothing further", stepRun{Further: true}, "\nStep 3 has no going-further task (no TestFurther_ test).\n"},
		{"further green", stepRun{Further: true, Ran: 1}, "\nAll green: you went further in step 3.\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.run
			r.Step = step
			var got strings.Builder
			require.NoError(t, r.recap(&got, t.TempDir()))
			assert.Equal(t, c.want, got.String())
		})
	}
}

func TestFirstTaskIsTheLowestThatTheCodeFailed(t *testing.T) {
	r := stepRun{Failed: []failedTest{
		{Name: "TestTask3_B", Task: "3", Output: "Task 3: do b"},
		{Name: "TestTask2_Chaos", Task: "2", Output: "the machine, not your code"},
		{Name: "TestHelper"},
		{Name: "TestTask2_A", Task: "2", Output: "Task 2: do a"},
		{Name: "TestFurther_C", Task: further, Output: "Going further: do c"},
	}}
	first, ok := r.firstTask()
	require.True(t, ok)
	assert.Equal(t, "TestTask2_A", first.Name)
}

func TestTaskMessage(t *testing.T) {
	output := `    order_test.go:12: the services' log lines:
        time=... level=INFO msg=started
    order_test.go:39: Task 1: order.place emitted no event.
        In place (order/order.go), emit "order.placed".
          o.svc.Emit(ctx, ...)
        time=... level=INFO msg=stopped
    order_test.go:40: more
--- FAIL: TestTask1_Emits (0.01s)
`
	assert.Equal(t, []string{
		"order_test.go:39: Task 1: order.place emitted no event.",
		`    In place (order/order.go), emit "order.placed".`,
		"      o.svc.Emit(ctx, ...)",
	}, taskMessage(output, "1"))

	// A message that quotes a log line keeps it, and goes on after it.
	quoting := `    order_test.go:235: Task 4: the log line
          time=... level=INFO msg="order placed" trace=abc
        has no order_id=....
        Log with InfoContext and pass it ctx.
        time=... level=INFO msg=stopped
`
	assert.Equal(t, []string{
		"order_test.go:235: Task 4: the log line",
		`      time=... level=INFO msg="order placed" trace=abc`,
		"    has no order_id=....",
		"    Log with InfoContext and pass it ctx.",
	}, taskMessage(quoting, "4"))

	panicked := "panic: nil map\n\ngoroutine 7 [running]:\n--- FAIL: TestTask2_X (0.00s)\n"
	assert.Equal(t, []string{"panic: nil map", "", "goroutine 7 [running]:"}, taskMessage(panicked, "2"))

	long := "    x_test.go:1: Task 3: a\n" + strings.Repeat("        more\n", 20)
	assert.Len(t, taskMessage(long, "3"), maxMessageLines+1)
}

func TestAGreenRecapOffersTheGoingFurtherTask(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kitchen.go"), []byte("package kitchen\n\n// TODO(step03) Going further: cook faster.\n"), 0o644))
	r := stepRun{Step: Step{Dir: "step03-events", Done: "All green: step 3 is done."}, Ran: 3}
	var got strings.Builder
	require.NoError(t, r.recap(&got, dir))
	assert.Equal(t, "\nAll green: step 3 is done.\n"+
		"Time to spare? `make further` has a going-further task for you.\n"+
		"Next: step 4, Discovery with ZooKeeper: cd ../step04-discovery and read its README.md.\n", got.String())

	// A going-further task done already is not offered again.
	r.FurtherGreen = true
	got.Reset()
	require.NoError(t, r.recap(&got, dir))
	assert.Equal(t, "\nAll green: step 3 is done.\n"+
		"And its going-further task is green too.\n"+
		"Next: step 4, Discovery with ZooKeeper: cd ../step04-discovery and read its README.md.\n", got.String())

	// The last step has no next one.
	r = stepRun{Step: steps[len(steps)-1], Ran: 3}
	got.Reset()
	require.NoError(t, r.recap(&got, t.TempDir()))
	assert.NotContains(t, got.String(), "Next:")
}

// The runner stops at the first package that fails, so a step's packages
// must come in the order of its tasks: otherwise a failure of a later
// task could hide an earlier one.
func TestStepPackagesComeInTheOrderOfTheTasks(t *testing.T) {
	for _, s := range steps {
		markers, err := findMarkers(filepath.Join("..", "..", "..", s.Dir), s)
		require.NoError(t, err)
		latest, latestPkg := 0, ""
		for _, pkg := range s.Packages {
			first, last := 0, 0
			for task, ms := range markers {
				n, err := strconv.Atoi(task)
				if err != nil { // further
					continue
				}
				for _, m := range ms {
					if "./"+path.Dir(m.File) == pkg || pkg == "./..." || (pkg == "." && path.Dir(m.File) == ".") {
						if first == 0 || n < first {
							first = n
						}
						last = max(last, n)
					}
				}
			}
			if first == 0 {
				continue
			}
			assert.GreaterOrEqual(t, first, latest, "%s: package %s has task %d, but %s before it has task %d: list %s first in steps.go", s.Dir, pkg, first, latestPkg, latest, pkg)
			latest, latestPkg = last, pkg
		}
	}
}

// TestFurtherRunsOnlyThePackagesWithFurtherTests: make further runs the
// going-further tests where they are, so that no package says "no tests
// to run" and none is "not run yet" for want of them.
func TestFurtherRunsOnlyThePackagesWithFurtherTests(t *testing.T) {
	for _, s := range steps {
		dir := filepath.Join("..", "..", "..", s.Dir)
		markers, err := findMarkers(dir, s)
		require.NoError(t, err)
		got, err := furtherPackages(dir)
		require.NoError(t, err)
		assert.Equal(t, len(markers[further]) > 0, len(got) > 0, "%s: going-further packages %v", s.Dir, got)
	}
	got, err := furtherPackages(filepath.Join("..", "..", "..", "step03-events"))
	require.NoError(t, err)
	assert.Equal(t, []string{"./kitchen"}, got, "step 3's going-further tests are kitchen's")

	// Step 2's solution (menu has no going-further test): green, its
	// going-further task too, quietly.
	s := steps[1]
	dir := filepath.Join("..", "..", "..", "solutions", s.Dir)
	var out strings.Builder
	r, err := runStep(dir, s, runOptions{Further: true}, &out)
	require.NoError(t, err)
	assert.True(t, r.green(), out.String())
	assert.NotContains(t, out.String(), "no tests to run")
	assert.NotContains(t, out.String(), "Not run yet")

	r, err = runStep(dir, s, runOptions{}, io.Discard)
	require.NoError(t, err)
	assert.True(t, r.green() && r.FurtherGreen, "step 2's solution is green, its going-further task too: %+v", r)
}
