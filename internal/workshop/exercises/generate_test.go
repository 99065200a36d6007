package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStripSolutionsKeepsTheStub(t *testing.T) {
	src := `func greet() string {
	// TODO(step01) Task 1: say hello.
	// BEGIN SOLUTION
	return "Hello!"
	// STUB
	// return "" // write me
	//
	// END SOLUTION
}
`
	got, err := stripSolutions([]byte(src))
	require.NoError(t, err)
	assert.Equal(t, `func greet() string {
	// TODO(step01) Task 1: say hello.
	return "" // write me

}
`, string(got))
}

func TestStripSolutionsRefusesUnbalancedMarkers(t *testing.T) {
	for name, src := range map[string]string{
		"no end":         "// BEGIN SOLUTION\nx\n",
		"end alone":      "x\n// END SOLUTION\n",
		"stub outside":   "// STUB\n",
		"begin in begin": "// BEGIN SOLUTION\n// BEGIN SOLUTION\n",
	} {
		_, err := stripSolutions([]byte(src))
		assert.Error(t, err, name)
	}
}

func TestStepFilesMoveImportsOfTheStepsOwnPackages(t *testing.T) {
	root := t.TempDir()
	write := func(path, data string) {
		path = filepath.Join(root, path)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	}
	write("go.mod", "module example.com/w\n\ngo 1.26\n")
	imp := "import \"example.com/w/solutions/step09-x/ledger\"\n"
	write("solutions/step09-x/order/order.go", "package order\n\n"+imp)
	write("solutions/step09-x/order/order_test.go", "package order\n\n"+imp)
	step := Step{Dir: "step09-x"}

	files, err := exerciseFiles(root, step)
	require.NoError(t, err)
	assert.Equal(t, "package order\n\nimport \"example.com/w/step09-x/ledger\"\n", string(files[filepath.Join("order", "order.go")]),
		"the exercise must import its own copy of the step's packages")
	assert.Equal(t, "package order\n\nimport \"example.com/w/step09-x/ledger\"\n", string(files[filepath.Join("order", "order_test.go")]),
		"the exercise's tests must import its own packages, so that it stands without solutions/")

	assert.ErrorContains(t, solve(root, "step09-x"), `no step is called "step09-x"`, "solve knows only the steps of the table")
}
