// Package solutions is a fixture for slides_test.go: a file of a
// solutions/ folder, which no slide may show before the recap.
package solutions

func answer() int {
	return 42
}
