# The workshop's top-level Makefile (GNU make). `make help` lists what it
# can do. Each step folder has a Makefile of its own for that step.
#
# The tools can be swapped on the command line, for example
#   make test GO=go1.26.8          (another Go)
#   make test TESTFLAGS=           (without the race detector, which needs cgo)

GO        ?= go
GOFMT     ?= gofmt
TESTFLAGS ?= -race
BENCHCOUNT ?= 6
BENCHOUT  ?= bench.out
SLIDES_ADDR ?= 127.0.0.1:3999
ACTIONLINT ?= $(GO) run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
DEVCONTAINER_CLI ?= npx --yes @devcontainers/cli@0.89.0

.DEFAULT_GOAL := help

.PHONY: help up down pull doctor warm test fmt vet test-hive test-tools test-slides test-solutions test-interop check-exercises test-demo check-ci check-devcontainer generate catch-up status watch hint demo web slides bench

# Every target with a "## " comment shows up in `make help`.
help: ## List the targets
	@echo "Usage: make TARGET"
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  make %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# --- The brokers ---------------------------------------------------------

up: ## Start RabbitMQ and ZooKeeper in Docker, and wait until both serve clients
	@$(GO) run ./internal/workshop/up

down: ## Stop and remove the broker containers and their data
	@$(GO) run ./internal/workshop/up -down

pull: ## Download the brokers' images, and the one the tests' containers need, while the network is good
	@$(GO) run ./internal/workshop/up -pull

doctor: ## Check your machine: Go, Docker, and whether the brokers answer
	@command -v $(GO) >/dev/null 2>&1 || { \
		echo "  ✗ Go: '$(GO)' is not on your PATH."; \
		echo "      → Install Go $$(sed -n 's/^go //p' go.mod) or newer from https://go.dev/dl/"; \
		exit 1; }
	@$(GO) run ./internal/workshop/doctor

# warm fills Go's build cache with everything the steps use, so that the
# first `make test` of the meetup takes seconds instead of minutes: every
# step's packages and their tests (go test -run '^$$' builds and vets them
# and runs nothing), the hive command, and the step runner. Not part of
# doctor, which must stay quick.
STEPS := $(addprefix ./,$(addsuffix /...,$(wildcard step0*-*)))

warm: ## Build and vet every step once, before the meetup (minutes once; then each make test takes seconds)
	@echo "make warm: building and vetting every step, the hive command and the step runner..."
	@$(GO) build ./hive/...
	@$(GO) test -count=1 -run '^$$' $(STEPS) >/dev/null || $(GO) test -count=1 -run '^$$' $(STEPS)
	@$(GO) tool exercises hint -step $(firstword $(wildcard step0*-*)) 1 >/dev/null
	@echo "make warm: done. Go's build cache now holds the steps: make test in a step takes seconds."

# A cluster as plain local processes, from Debian's rabbitmq-server and
# zookeeper packages (no Docker): 3 RabbitMQ nodes on 25801-25803, 3
# ZooKeeper nodes on 25821-25823, data in .cluster/. The brokers of
# `make up` on 5672 and 2181 are not touched.
cluster: ## Start a 3-node RabbitMQ cluster and a 3-node ZooKeeper ensemble on 127.0.0.1, and print the HIVE_* settings for them
	@$(GO) run ./internal/workshop/cluster

cluster-down: ## Stop the cluster of `make cluster` and remove its data
	@$(GO) run ./internal/workshop/cluster -down

# --- Tests ---------------------------------------------------------------

# `make test` runs everything that must pass, in CI too (.ci/run).
# To add a check, write it as a target of its own and list it here.
test: fmt vet test-hive test-tools test-slides test-solutions test-interop check-exercises test-demo check-ci check-devcontainer ## Run every check that must pass (CI runs this)
	@echo
	@echo "make test: all checks passed."

fmt: ## Check that every Go file is formatted with gofmt, and no file holds conflict markers
	@files=$$($(GOFMT) -l .); \
	if [ -n "$$files" ]; then \
		echo "These files are not formatted; run gofmt -w on them:"; \
		echo "$$files" | sed 's/^/  /'; \
		exit 1; \
	fi
	@# A merge's conflict markers break no build in a README or PROTOCOL.md.
	@files=$$(grep -rlE '^(<<<<<<<|>>>>>>>) ' --exclude-dir=.git --exclude-dir=node_modules --exclude-dir=.cluster . || true); \
	if [ -n "$$files" ]; then \
		echo "These files hold a merge's conflict markers (<<<<<<< or >>>>>>>): resolve them:"; \
		echo "$$files" | sed 's/^/  /'; \
		exit 1; \
	fi

vet: ## Run go vet on every package
	$(GO) vet ./...

test-hive: ## Test the hive framework (broker tests skip when no broker runs)
	$(GO) test $(TESTFLAGS) ./hive/...

test-tools: ## Test the workshop's own tools (make doctor and friends)
	$(GO) test $(TESTFLAGS) ./internal/...

# test-slides checks the talk (slides/README.md has its rules): statically,
# and in a headless Chromium, every slide at 1280x720 and the READMEs as
# GitHub shows them. Without Chromium the browser checks skip and say so;
# HIVE_REQUIRE_BROWSER=1 (CI) makes that a failure. The READMEs are
# rendered by npm packages, which this installs when npm is there.
test-slides: ## Check the talk (includes, length, no answers given away) and, in Chromium, every slide and README on screen
	@if command -v npm >/dev/null 2>&1 && [ ! -d slides/markdown/node_modules ]; then \
		npm ci --prefix slides/markdown --no-audit --no-fund --loglevel=error || \
		echo "make test-slides: npm ci failed, so the README check will skip"; \
	fi
	$(GO) test ./slides/...

test-solutions: ## Prove that every step's solution passes the step's tests
	$(GO) test $(TESTFLAGS) ./solutions/...

# The Python peer needs Debian's python3-kazoo and python3-pika; without
# them the test skips (and fails under HIVE_REQUIRE_BROKERS=1, as in CI).
test-interop: ## Run a Python service (interop/python) next to Go services: the wire contract, proven
	$(GO) test $(TESTFLAGS) ./interop/...

# Each test starts a cluster of its own from Debian's rabbitmq-server and
# zookeeper (ports 26800-, 26900-, 27800-, 28800-), kills nodes, and stops
# it: TestClusterFaults a bus on 3 RabbitMQ nodes (2m10s on 2 cores), a
# ZooKeeper server without quorum (3 s), step 5's beehive on 3+3 nodes,
# one fault at a time: the ZooKeeper leader, a second ZooKeeper node (no
# quorum for 20 s), a RabbitMQ node with bees on it (about 2 min),
# delayed events across a restart of a private RabbitMQ node, and events
# over TLS (amqps://) on a private node with a test-made CA (ports 29800-,
# 11 s); one package at a time. Not part of `make test`: .ci/run runs it
# after `make test`; GitHub's CI runs the brokers in containers and
# leaves it out (HIVE_CLUSTER_TESTS=0 in .github/workflows/ci.yml).
test-cluster: ## Kill broker nodes under load on local clusters: no event or order lost or doubled; delayed events survive a restart (about 5 min)
	HIVE_CLUSTER_TESTS=1 $(GO) test $(TESTFLAGS) -p 1 -count=1 \
		-run 'TestClusterFaults|TestDelayedEventsSurviveABrokerRestart|TestNewSaysWhenTheEnsembleHasNoQuorum|TestBeehiveSurvivesBrokerNodesDying|TestEventsOverTLS' \
		./hive/events/rabbitmq/ ./hive/registry/zookeeper/ ./internal/workshop/localcluster/ ./hive/env/

check-exercises: ## Prove that every exercise is generated, fresh, and fails only on its tasks
	$(GO) run ./internal/workshop/exercises check

test-demo: ## Run the demo in both modes, in memory and on the brokers (when they answer)
	$(GO) run ./internal/workshop/demo -mode memory -duration 5s
	@if [ "$$HIVE_REQUIRE_BROKERS" = 1 ]; then $(GO) run ./internal/workshop/demo -mode brokers -duration 8s; \
	else $(GO) run ./internal/workshop/demo -mode auto -duration 8s; fi

check-ci: ## Lint the GitHub workflow (.github/workflows/ci.yml) with actionlint
	$(ACTIONLINT)

# The Dev Containers CLI first asks docker for a running dev container:
# `true` stands in for docker and Compose, so the check needs neither. The
# CLI reads nearly anything (a missing comma, a service that does not
# exist), so internal/workshop/up's TestDevcontainer holds .devcontainer/
# to what the workshop needs.
check-devcontainer: ## Check .devcontainer/ with the Dev Containers CLI (needs Node.js's npx)
	@command -v npx >/dev/null || { echo "npx is missing: install Node.js (Debian: apt-get install nodejs npm)."; exit 1; }
	@out=$$($(DEVCONTAINER_CLI) read-configuration --workspace-folder . --docker-path true --docker-compose-path true) || exit 1; \
	echo "$$out" | grep -q '"service":"dev"' || { echo "The Dev Containers CLI does not read the service dev in .devcontainer/devcontainer.json:"; echo "$$out"; exit 1; }
	@echo "check-devcontainer: the Dev Containers CLI reads .devcontainer/devcontainer.json."

# --- The workshop ----------------------------------------------------------

generate: ## Write the step folders from solutions/ (after changing a solution)
	$(GO) run ./internal/workshop/exercises generate

catch-up: ## Write a step's solution into its folder, to go on from there: make catch-up STEP=step02-rpc
	@test -n "$(STEP)" || { echo "Say which step: make catch-up STEP=step02-rpc"; exit 2; }
	$(GO) run ./internal/workshop/exercises solve $(STEP)

# status runs only the task tests, and go test's cache answers for the
# packages that passed before, so finished steps take a moment. Step 5's
# chaos test takes half a minute more: CHAOS=1 runs it too.
status: ## Show how many tasks of each step pass, a step at a time (CHAOS=1: step 5's chaos test too)
	@$(GO) tool exercises status $(if $(CHAOS),-chaos)

watch: ## Run a step's tests whenever you save a file, and show what to do next: make watch STEP=step02-rpc
	@$(GO) tool exercises watch -step "$(STEP)"

hint: ## Show the README's hint for a task: make hint STEP=step02-rpc TASK=2 (CODE=1: the solution's code too)
	@$(GO) tool exercises hint -step "$(STEP)" $(if $(CODE),-code) $(TASK)

# The finished beehive of step 5, under load, losing bees. It runs on the
# brokers when they answer, otherwise in one process, and says which. More
# flags: make demo DEMO="-mode memory -duration 30s -v"
demo: ## Run the finished beehive, kill bees under load, and show that no order is lost or doubled
	@$(GO) run ./internal/workshop/demo $(DEMO)

# A live picture of the hive in the browser: its bees, each service's
# rates, each queue, and what happened. Another hive or address:
# HIVE_NAMESPACE=demo-1a2b3c4d make web WEB="-addr 127.0.0.1:7071"
web: ## Show the hive live at http://127.0.0.1:7070/ (bees, rates, queues, what happened)
	@$(GO) run ./hive/cmd/hive web $(WEB)

# The talk, served by Go's present tool: a tool dependency in go.mod, so
# there is nothing to install. Its pages and scripts ship inside the
# module, so the slides show offline too (the fonts then fall back to local
# ones). Another address: make slides SLIDES_ADDR=0.0.0.0:3999
slides: ## Serve the talk at http://127.0.0.1:3999/workshop.slide (press N for the notes)
	@echo "The talk: http://$(SLIDES_ADDR)/workshop.slide (press N for the presenter notes; Ctrl-C stops)"
	@cd slides && $(GO) tool present -http $(SLIDES_ADDR) -notes -play=false

# --- Measurements --------------------------------------------------------

# `make bench` sets hive against the raw libraries it is built on (see
# hive/bench): RPC against net/http, events against amqp091-go, discovery
# against go-zookeeper. It runs the whole set BENCHCOUNT times, one round
# after the other, rather than each benchmark BENCHCOUNT times in a row
# (-count): so hive and the raw library take turns, and a broker that
# slows down over the run slows both sides alike. benchstat then puts them
# side by side, the raw library as the baseline.
bench: ## Measure hive against the raw libraries, side by side (needs `make up`)
	@rm -f $(BENCHOUT)
	@for i in $$(seq $(BENCHCOUNT)); do \
		echo "make bench: round $$i of $(BENCHCOUNT)" >&2; \
		$(GO) test -run '^$$' -bench . -benchmem -count=1 ./hive/bench >>$(BENCHOUT) || { cat $(BENCHOUT); exit 1; }; \
	done
	@echo "make bench: the raw results are in $(BENCHOUT)"
	@stat=$$(command -v benchstat || echo "$$($(GO) env GOPATH)/bin/benchstat"); \
	if [ ! -x "$$stat" ]; then \
		echo "To compare them, install benchstat and run it:"; \
		echo "  go install golang.org/x/perf/cmd/benchstat@latest"; \
		echo "  benchstat -filter .name:RPC -col /impl $(BENCHOUT)"; \
		exit 0; \
	fi; \
	for name in RPC Events Discovery; do \
		echo; echo "== $$name: hive against the raw library (the first column) =="; \
		"$$stat" -filter .name:$$name -col /impl $(BENCHOUT); \
	done
