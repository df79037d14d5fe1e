# ksc's jobs. "make test" is the whole suite; CI runs it with kernel tests
# required (.ci/run).
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: example test deps vet lint e2e fuzz update

# Compile the bundled example to nft.
example:
	$(GO) run ./cmd/ksc compile examples/ivpn-killswitch.ks --target nft

# The whole suite: installs what the kernel tests need (as root), checks
# formatting, go.mod and lint, then runs every test, kernel tests included.
test: deps vet lint
	$(GO) test -count=1 ./...

deps:
	sh scripts/install-test-deps.sh

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...

lint:
	$(GO) run $(STATICCHECK) ./...

# The end-to-end suite alone: real OpenVPN and WireGuard tunnels, every loader.
e2e: deps
	$(GO) test -count=1 -v ./e2e

# Each fuzz target for a bounded time (FUZZTIME); new crashers land in testdata/fuzz.
FUZZTIME ?= 30s
fuzz: deps
	$(GO) test ./lang -run XXX -fuzz FuzzLoad -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./lang -run XXX -fuzz FuzzLexersAgree -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./lang -run XXX -fuzz FuzzSetFastPathIsTheGrammar -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./lang -run XXX -fuzz FuzzParallelParseIsSequential -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./lang -run XXX -fuzz FuzzDroppedWhitespaceLeavesTheTree -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./lang -run XXX -fuzz FuzzBodyIsTheGrammars -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./lang -run XXX -fuzz FuzzHandParseIsTheGrammar -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./cmd/ksc -run XXX -fuzz FuzzCompile -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

# Rewrite golden files and expected CLI output after an intended change.
update:
	$(GO) test ./... -update
