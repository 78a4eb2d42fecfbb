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
# As root, the demo pools run as root too: php-fpm's -R. Their sockets are mode
# 0660 and root's, so only root reaches them (docs/security.md, "Examples, sockets and root").
ROOTFLAG  := $(shell [ "$$(id -u)" = 0 ] && echo -R)
# Packages the integration tests need (Debian), each as PACKAGE:FILE it provides.
DEB_NEEDS := nginx:/usr/sbin/nginx php8.2-cgi:/usr/bin/php-cgi8.2 libfcgi-bin:/usr/bin/cgi-fcgi \
	libfcgi-dev:/usr/include/fcgiapp.h libfcgi-perl:/usr/lib/x86_64-linux-gnu/perl5/5.36/FCGI.pm chromium:/usr/bin/chromium \
	mono-mcs:/usr/bin/mcs mono-runtime:/usr/lib/libMonoPosixHelper.so ruby:/usr/bin/ruby ruby-fcgi:/usr/lib/ruby/vendor_ruby/fcgi.rb nodejs:/usr/bin/node logrotate:/usr/sbin/logrotate
FCGI_H    := /usr/include/fcgiapp.h
DEB_WHY   := for the end-to-end tests: nginx in front, php-cgi pools, cgi-fcgi health checks, the C and Perl examples, chromium for the dashboard, Mono, Ruby and Node.js for the examples in those languages, logrotate to check deploy/logrotate

.PHONY: all build examples run test unit fuzz vet bench deps check-config docs-check man bench-php dist deb pkg-files clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(GOFPM) .
	CGO_ENABLED=0 $(GO) build -o $(BIN)/hello ./examples/hello # static: starts 0.9 ms sooner (docs/workers.md)

## examples: build every example that needs building (Go, C, C# with Mono's mcs; C and C# are skipped without libfcgi-dev or mcs)
examples: build
	@if [ -e $(FCGI_H) ]; then \
		echo "$(CC) -O2 -Wall -o $(BIN)/hello-c examples/c/hello.c -lfcgi"; \
		$(CC) -O2 -Wall -o $(BIN)/hello-c examples/c/hello.c -lfcgi; \
	else echo "examples: skipping the C example: libfcgi-dev is missing (make deps as root installs it)"; fi
	$(if $(shell command -v mcs),mcs -nologo -out:$(BIN)/hello-csharp.exe examples/csharp/hello.cs,@echo "examples: skipping the C# example: mcs is missing (make deps as root installs mono-mcs)")

## run: build and start the demo pool (4 Go workers, HTTP front on 127.0.0.1:8080)
run: build
	$(GOFPM) -c examples/hello/pool.toml $(ROOTFLAG)

## deps: install what the integration tests need (apt-get, only as root and only what is missing)
deps:
	@missing=""; for n in $(DEB_NEEDS); do [ -e $${n#*:} ] || missing="$$missing $${n%%:*}"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "make deps: installing$$missing with apt-get, $(DEB_WHY)"; \
			(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "make deps: missing$$missing ($(DEB_WHY)): the tests that need them are skipped; make deps as root installs them"; \
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
	@# allocation counts, which the race detector changes (sync.Pool drops at random)
	$(GO) test -count=1 -run 'AllocatesNothing' ./...

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
	@for f in examples/*/pool.toml deploy/*/pool.toml deploy/container/php/pool.toml; do \
		if grep -q 'bin/hello-c' $$f && [ ! -x $(BIN)/hello-c ]; then echo "check-config: skipping $$f: bin/hello-c is not built (libfcgi-dev is missing)"; continue; fi; \
		$(GOFPM) check -c $$f $(ROOTFLAG) >/dev/null || exit 1; done; echo "examples and deploy: configs ok"

## bench: Go benchmarks and the end-to-end comparison against the peers
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./fcgi/... ./worker/... ./fpm/...
	bench/run.sh
	GOFPM_BIN=$(GOFPM) bench/php-scenario.sh

## bench-php: PHP only: php-fpm 8.2 against gofpm's PHP pools on hello.php and MediaWiki (root)
bench-php: build
	GOFPM_BIN=$(GOFPM) bench/php-scenario.sh

# Packages (make dist, make deb): a static binary (no cgo: it runs on any
# Linux of its architecture), the man page and completions it prints, the
# systemd units, the logrotate file when deploy/logrotate has one.
PKG         := $(BIN)/pkg
GOARCH      := $(shell $(GO) env GOARCH)
DIST_NAME   := gofpm-$(VERSION)-linux-$(GOARCH)
# Debian's names: amd64 arm64 riscv64 s390x as Go's; these differ.
DEB_ARCH    := $(or $(word 2,$(subst :, ,$(filter $(GOARCH):%,386:i386 arm:armhf ppc64le:ppc64el mips64le:mips64el))),$(GOARCH))
# A Debian version: v1.2.3 -> 1.2.3, a commit (no tag) -> 0~g<commit>, below any release.
DEB_VERSION := $(shell printf '%s' '$(VERSION)' | sed -e 's/^v\([0-9]\)/\1/' -e '/^[0-9][0-9]*\./!s/^/0~g/' | tr -c 'A-Za-z0-9.+~' '+')
DEB         := $(BIN)/gofpm_$(DEB_VERSION)_$(DEB_ARCH).deb
# The first regular file of deploy/logrotate (a file or a folder), if any.
LOGROTATE    = $(firstword $(shell find deploy/logrotate -maxdepth 1 -type f ! -name '*.md' 2>/dev/null | sort))

pkg-files:
	rm -rf $(PKG) && mkdir -p $(PKG)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(PKG)/gofpm .
	$(PKG)/gofpm man > $(PKG)/gofpm.1
	$(PKG)/gofpm completion bash > $(PKG)/gofpm.bash
	$(PKG)/gofpm completion zsh > $(PKG)/_gofpm
	$(PKG)/gofpm completion fish > $(PKG)/gofpm.fish

## dist: bin/gofpm-VERSION-linux-ARCH.tar.gz: binary, man page, completions, systemd units, logrotate file (docs/install.md)
dist: pkg-files
	@d=$(PKG)/$(DIST_NAME); set -e; \
	install -d -m 0755 $$d/completions $$d/systemd; \
	install -m 0755 $(PKG)/gofpm $$d/gofpm; \
	install -m 0644 $(PKG)/gofpm.1 $$d/gofpm.1; \
	install -m 0644 $(PKG)/gofpm.bash $(PKG)/_gofpm $(PKG)/gofpm.fish $$d/completions/; \
	install -m 0644 deploy/systemd/gofpm.service deploy/systemd/gofpm.socket deploy/systemd/pool.toml $$d/systemd/; \
	if [ -n "$(LOGROTATE)" ]; then install -d -m 0755 $$d/logrotate && install -m 0644 $(LOGROTATE) $$d/logrotate/gofpm; fi; \
	install -m 0644 LICENSE README.md $$d/; \
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='@0' -C $(PKG) -czf $(BIN)/$(DIST_NAME).tar.gz $(DIST_NAME); \
	echo "$(BIN)/$(DIST_NAME).tar.gz"

## deb: bin/gofpm_VERSION_ARCH.deb (dpkg-deb): /usr/bin/gofpm, /etc/gofpm/pool.toml + pool.d/, gofpm.service (docs/install.md)
deb: pkg-files
	@r=$(PKG)/deb; set -e; \
	install -d -m 0755 $$r/DEBIAN $$r/usr/bin $$r/usr/share/man/man1 $$r/usr/share/bash-completion/completions \
		$$r/usr/share/zsh/vendor-completions $$r/usr/share/fish/vendor_completions.d $$r/lib/systemd/system \
		$$r/etc/gofpm/pool.d $$r/usr/share/doc/gofpm $$r/usr/lib/cgi-bin; \
	install -m 0755 $(PKG)/gofpm $$r/usr/bin/gofpm; \
	gzip -9n < $(PKG)/gofpm.1 > $$r/usr/share/man/man1/gofpm.1.gz; \
	install -m 0644 $(PKG)/gofpm.bash $$r/usr/share/bash-completion/completions/gofpm; \
	install -m 0644 $(PKG)/_gofpm $$r/usr/share/zsh/vendor-completions/_gofpm; \
	install -m 0644 $(PKG)/gofpm.fish $$r/usr/share/fish/vendor_completions.d/gofpm.fish; \
	for u in gofpm.service gofpm.socket; do \
		sed -e '1,/^\[Unit\]/{/^#/d;}' -e 's#/usr/local/bin/gofpm#/usr/bin/gofpm#g' deploy/systemd/$$u > $$r/lib/systemd/system/$$u; \
	done; \
	install -m 0644 deploy/debian/pool.toml $$r/etc/gofpm/pool.toml; \
	install -m 0644 deploy/debian/pool.d/www.toml $$r/etc/gofpm/pool.d/www.toml; \
	if [ -n "$(LOGROTATE)" ]; then install -d -m 0755 $$r/etc/logrotate.d && install -m 0644 $(LOGROTATE) $$r/etc/logrotate.d/gofpm; fi; \
	install -m 0644 deploy/debian/copyright $$r/usr/share/doc/gofpm/copyright; \
	install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm $$r/DEBIAN/; \
	(cd $$r && find etc -type f | sed 's#^#/#' | sort) > $$r/DEBIAN/conffiles; \
	(cd $$r && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > $$r/DEBIAN/md5sums; \
	size=$$(du -sk --exclude=DEBIAN $$r | cut -f1); \
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' -e "s/@SIZE@/$$size/" deploy/debian/control.in > $$r/DEBIAN/control; \
	chmod 0644 $$r/DEBIAN/control $$r/DEBIAN/conffiles $$r/DEBIAN/md5sums; \
	dpkg-deb --root-owner-group -Zgzip --build $$r $(DEB) >/dev/null; \
	echo "$(DEB)"

clean:
	rm -rf $(BIN)
