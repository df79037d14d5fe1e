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

# Each fuzz target for a number of runs, about 30 s each on a 2-core
# machine; new crashers land in testdata/fuzz. Counts, not a duration: with
# a duration, Go 1.26's fuzz coordinator can fail at the deadline with
# "context deadline exceeded" and no input to blame (go.dev/issue/75804,
# fixed in Go 1.27). FUZZTIME=10s (or =1000x) sets every target's instead.
FUZZTIME ?=
fuzztime = $(if $(FUZZTIME),$(FUZZTIME),$(1))
fuzz: deps
	$(GO) test ./lang -run XXX -fuzz '^FuzzLoad$$' -fuzztime $(call fuzztime,200000x) -fuzzminimizetime 5s
	$(GO) test ./lang -run XXX -fuzz '^FuzzLoadMachine$$' -fuzztime $(call fuzztime,100000x) -fuzzminimizetime 5s
	$(GO) test ./lang -run XXX -fuzz FuzzLexersAgree -fuzztime $(call fuzztime,100000x) -fuzzminimizetime 5s
	$(GO) test ./cmd/ksc -run XXX -fuzz FuzzCompile -fuzztime $(call fuzztime,25000x) -fuzzminimizetime 5s
	$(GO) test ./sim -run XXX -fuzz FuzzParseTests -fuzztime $(call fuzztime,200000x) -fuzzminimizetime 5s

# Rewrite golden files and expected CLI output after an intended change.
update:
	$(GO) test ./... -update
