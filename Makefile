# gofpm — see README.md. `make run` starts the demo pool, `make test` tests everything.
GO        ?= go
CC        ?= cc
BIN       := bin
GOFPM     := $(BIN)/gofpm
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# make fuzz: a minute per fuzz target; make test runs each for FUZZTIME_TEST.
FUZZTIME  ?= 1m
FUZZTIME_TEST ?= 5s
# As root, the demo pools run as root too: php-fpm's -R.
ROOTFLAG  := $(shell [ "$$(id -u)" = 0 ] && echo -R)
# Packages the integration tests need (Debian).
DEB_PKGS  := nginx php8.2-cgi libfcgi-bin libfcgi-dev libfcgi-perl chromium
DEB_BINS  := /usr/sbin/nginx /usr/bin/php-cgi8.2 /usr/bin/cgi-fcgi /usr/bin/chromium /usr/include/fcgiapp.h /usr/lib/x86_64-linux-gnu/perl5/5.36/FCGI.pm

.PHONY: all build examples run test unit fuzz vet bench bench-php deps check-config docs-check man clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(GOFPM) .
	$(GO) build -o $(BIN)/hello ./examples/hello

## examples: build every example that needs building (Go, C)
examples: build
	$(CC) -O2 -Wall -o $(BIN)/hello-c examples/c/hello.c -lfcgi

## run: build and start the demo pool (4 Go workers, HTTP front on 127.0.0.1:8080)
run: build
	$(GOFPM) -c examples/hello/pool.toml $(ROOTFLAG)

## deps: install what the integration tests need (apt-get, only as root and only when missing)
deps:
	@missing=""; for b in $(DEB_BINS); do [ -x $$b ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing $(DEB_PKGS)"; \
			(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PKGS) >/dev/null; \
		else \
			echo "missing some of $(DEB_PKGS): the tests that need them will be skipped (run make deps as root)"; \
		fi; \
	fi

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

## test: deps, vet, gofmt, docs-check, go test -race ./..., a short fuzz pass, config check of the examples
test: deps vet examples check-config docs-check unit
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_TEST)

## docs-check: every example in README.md and docs/*.md checked (gofpm check, nginx -t, the CLI's flags; docs_test.go)
docs-check:
	$(GO) test -count=1 -run '^TestDocs' .

## man: the man page, made from the command definitions, in bin/gofpm.1 (man -l bin/gofpm.1)
man: build
	$(GOFPM) man > $(GOFPM).1

unit:
	$(GO) test -race -count=1 ./...

# A fuzz run that fails without a failing input (Go 1.26's coordinator can
# report a bare "context deadline exceeded", golang/go#75804) is run once more.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) && continue; \
			if echo "$$out" | grep -q 'Failing input'; then echo "$$out"; exit 1; fi; \
			echo "  fuzzing engine failed without an input; once more"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

check-config: examples
	@for f in examples/*/pool.toml deploy/*/pool.toml; do $(GOFPM) check -c $$f $(ROOTFLAG) >/dev/null || exit 1; done; echo "examples and deploy: configs ok"

## bench: Go benchmarks and the end-to-end comparison against the peers
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./fcgi/... ./worker/... ./fpm/...
	bench/run.sh
	GOFPM_BIN=$(GOFPM) bench/php-scenario.sh

## bench-php: PHP only: php-fpm 8.2 against gofpm's PHP pools on hello.php and MediaWiki (root)
bench-php: build
	GOFPM_BIN=$(GOFPM) bench/php-scenario.sh

clean:
	rm -rf $(BIN)
