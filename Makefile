# The targets CI and developers share. `make test` is the README's test command.
GO ?= go
PKGS ?= ./...

.PHONY: test vet fuzz-smoke long bench bench-quick

# Whole suite with the race detector, then each fuzz target for a short budget.
test: vet
	$(GO) test -race -count=1 -timeout 25m $(PKGS)
	$(MAKE) fuzz-smoke

vet:
	$(GO) vet $(PKGS)

# Every Fuzz* target runs for FUZZTIME; the committed corpus runs in `go test` anyway.
FUZZTIME ?= 10s
fuzz-smoke:
	@./.ci/fuzz-all.sh $(FUZZTIME)

# The long variants of the reliability suites (RIALTO_LONG=1, package
# internal/testscale), then every fuzz target for ten minutes. Hours, not CI.
long: vet
	RIALTO_LONG=1 $(GO) test -count=1 -timeout 4h $(PKGS)
	$(MAKE) fuzz-smoke FUZZTIME=10m

bench:
	$(GO) run ./bench

bench-quick:
	$(GO) run ./bench -quick
