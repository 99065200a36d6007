package main

// Step describes one step of the workshop. This table is the one place that
// lists them; the generator, the check and the status table all read it.
type Step struct {
	Dir     string // the exercise folder; the solution is solutions/<Dir>
	Title   string
	Minutes int    // a fair time for an attendee who knows some Go
	Needs   string // the brokers its tests need, for messages; "" for none
}

var steps = []Step{
	{"step01-hello", "A first service", 15, ""},
	{"step02-rpc", "Services calling services", 30, ""},
	{"step03-events", "Events through RabbitMQ", 40, "RabbitMQ"},
	{"step04-discovery", "Discovery with ZooKeeper", 35, "ZooKeeper"},
	{"step05-beehive", "The beehive", 40, "RabbitMQ and ZooKeeper"},
}
