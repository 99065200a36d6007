package main

// Step describes one step of the workshop. This table is the one place that
// lists them; the generator, the check, the status table and the step
// runner (make test in a step folder) all read it.
type Step struct {
	Dir     string // the exercise folder; the solution is solutions/<Dir>
	Title   string
	Minutes int    // a fair time for an attendee who knows some Go
	Needs   string // the brokers its tests need, for messages; "" for none

	// Packages are the folders make test runs, in the order of the tasks,
	// so that the tests come in that order too.
	Packages []string
	// Verbose shows every test as it passes, fails or is skipped, and what
	// it prints (go test -v, without the "=== RUN" lines); otherwise only
	// the failures show, and each package stops at its first (-failfast),
	// so that there is one thing to do at a time.
	Verbose bool
	// Slow names a task test that make status leaves out unless asked
	// (make status CHAOS=1), because it takes half a minute.
	Slow string
	// Done is what make test says when the step is green.
	Done string
}

var steps = []Step{
	{
		Dir: "step01-hello", Title: "A first service", Minutes: 15,
		Packages: []string{"./..."},
		Done:     "All green: step 1 is done.",
	},
	{
		Dir: "step02-rpc", Title: "Services calling services", Minutes: 30,
		Packages: []string{"./..."},
		Done:     "All green: step 2 is done.",
	},
	{
		Dir: "step03-events", Title: "Events through RabbitMQ", Minutes: 40, Needs: "RabbitMQ",
		// "." is the system test, which runs all services together.
		Packages: []string{"./order", "./kitchen", "./notifier", "."},
		Verbose:  true,
		Done:     "All green: step 3 is done.",
	},
	{
		Dir: "step04-discovery", Title: "Discovery with ZooKeeper", Minutes: 35, Needs: "ZooKeeper",
		Packages: []string{"./dispatch", "./kitchen", "./menu", "./order"},
		Verbose:  true,
		Done:     "All green: step 4 is done.",
	},
	{
		Dir: "step05-beehive", Title: "The beehive", Minutes: 40, Needs: "RabbitMQ and ZooKeeper",
		Packages: []string{"./order", "./customer", "./kitchen", "./chaos", "./ledger"},
		Verbose:  true,
		Slow:     "TestTask5_NoOrderIsLostOrDoubledWhenBeesDie",
		Done:     "All green: step 5 is done, and so is the workshop.",
	},
}
