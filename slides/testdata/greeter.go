// Package greeter is a fixture for slides_test.go: its function is called
// sayHello, not greet, as if it had been renamed, and it still holds the
// markers of a solution file.
package greeter

func sayHello(name string) string {
	// BEGIN SOLUTION
	return "Hello, " + name + "!"
	// END SOLUTION
}
