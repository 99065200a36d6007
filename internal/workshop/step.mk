# What every step's Makefile shares: the step runner's targets. Each step's
# Makefile includes this file, after its own help target.
#
# The step runner is internal/workshop/exercises, a tool of the module
# (`go tool exercises`). It runs the step's tests in the order of the
# tasks, as its steps.go lists them, and ends with the same short recap in
# every step: the first failing task, where its TODO comment is, and the
# README's hint for it. The going-further task's tests (TestFurther_...)
# wait for `make further`.

.PHONY: test further watch hint

test: ## Run this step's tests; the end says what to do next
	@$(GO) tool exercises test

further: ## When the step is green: the going-further task's tests
	@$(GO) tool exercises test -further

# watch polls the .go files every half second: no file-watching tool to
# install, the same on Linux and macOS.
watch: ## Run the tests again whenever you save a .go file; show what to do next (Ctrl-C ends)
	@$(GO) tool exercises watch

hint: ## Show the README's hint for a task: make hint TASK=2 (CODE=1: the solution's code too; no TASK: the tasks)
	@$(GO) tool exercises hint $(if $(CODE),-code) $(TASK)
