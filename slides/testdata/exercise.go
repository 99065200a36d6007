// Package exercise is a fixture for slides_test.go: a file with a
// solution between markers, as the workshop's generator reads them.
package exercise

func answer() int {
	// BEGIN SOLUTION
	return 42
	// STUB
	// return 0
	// END SOLUTION
}
