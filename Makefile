# make test: the whole suite, installing what the kernel tests need first.
# make example: compile the bundled example.

GO ?= go

.PHONY: test deps vet example update

test: deps vet
	$(GO) test -count=1 ./...

deps:
	sh scripts/install-test-deps.sh

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

example:
	$(GO) run ./cmd/ksc compile examples/ivpn-killswitch.ks --target nft

# Rewrite golden files and expected CLI output after an intended change.
update:
	$(GO) test ./... -update
