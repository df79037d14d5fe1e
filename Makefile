# make test: the whole suite, installing what the kernel tests need first.
# make # The end-to-end suite alone: a real OpenVPN tunnel, every loader.
e2e: deps
	$(GO) test -count=1 -v ./e2e

# Each fuzz target for a bounded time (FUZZTIME); new crashers land in testdata/fuzz.
FUZZTIME ?= 30s
fuzz: deps
	$(GO) test ./lang -run XXX -fuzz FuzzLoad -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./cmd/ksc -run XXX -fuzz FuzzCompile -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

example: compile the bundled example.

GO ?= go

.PHONY: test deps vet example update e2e fuzz

test: deps vet
	$(GO) test -count=1 ./...

deps:
	sh scripts/install-test-deps.sh

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# The end-to-end suite alone: a real OpenVPN tunnel, every loader.
e2e: deps
	$(GO) test -count=1 -v ./e2e

# Each fuzz target for a bounded time (FUZZTIME); new crashers land in testdata/fuzz.
FUZZTIME ?= 30s
fuzz: deps
	$(GO) test ./lang -run XXX -fuzz FuzzLoad -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./cmd/ksc -run XXX -fuzz FuzzCompile -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

example:
	$(GO) run ./cmd/ksc compile examples/ivpn-killswitch.ks --target nft

# Rewrite golden files and expected CLI output after an intended change.
update:
	$(GO) test ./... -update
