#!/usr/bin/env bash
# languages-scenario.sh - scenario L of `make bench`: what each runtime costs
# per request. The same hello JSON ({"lang": L, "pid": N, "query": Q}) from
# the examples' responders, each in a gofpm static pool of 2 behind the same
# nginx (one connection per request, as in every peer scenario):
#
#   lang-go-2       examples/hello (the worker package), /api/x
#   lang-python-2   examples/python/hello.py (standard library)
#   lang-csharp-2   examples/csharp/hello.cs on Mono (built here with mcs)
#   lang-ruby-2     examples/ruby/hello.rb (ruby-fcgi, pure Ruby)
#   lang-node-2     examples/node/hello.js (Node.js, no npm package)
#
# C (libfcgi) is scenario F, Perl (FCGI) P's pooled-pl, PHP B. A language
# whose runtime is missing is left out with a line on stderr; LANGS="csharp
# node" measures only those. Run by
# bench/run.sh (SCENARIOS="L" bench/run.sh -r 1), which sets SHARED_BENCH,
# BUILD_DIR, GOFPM_BIN, HELLO_BIN, ROUND, DURATION, LOG_DIR.
# shellcheck source=/dev/null
source "$SHARED_BENCH/lib/common.sh"
bench_init L
# shellcheck source=gofpm-pool.sh
source "$(dirname "$0")/gofpm-pool.sh"
# shellcheck source=pool-lib.sh
source "$(dirname "$0")/pool-lib.sh"
EX=$(cd "$(dirname "$0")/../examples" && pwd)
n=${LANG_CHILDREN:-2}

# lang_pool VARIANT COMMAND_TOML NEEDS...: measure one language's pool of $n
# behind nginx, unless one of the files NEEDS is missing.
lang_pool() {
	local variant=$1 command=$2 f lang; shift 2
	lang=${variant#lang-}
	[[ " ${LANGS:-go python csharp ruby node} " == *" ${lang%-*} "* ]] || return 0
	for f in "$@"; do
		[[ -e $f ]] || { log "$variant: $f missing (make deps), left out"; return 0; }
	done
	start_pool "command = [$command]"
	start_nginx "$UPSTREAM"
	wait_json "$NGINX_URL/api/x"
	measure_all "$variant" "$NGINX_URL/api/x?x=1"
	emit_mem "$variant" worker $(children_of "$GOFPM_PID")
	stop_all
}

lang_pool lang-go-$n "\"$HELLO_BIN\""
lang_pool lang-python-$n "\"$EX/python/hello.py\"" /usr/bin/python3
if command -v mcs >/dev/null; then
	mcs -nologo -out:"$BENCH_TMP/hello-csharp.exe" "$EX/csharp/hello.cs" || die "mcs failed on hello.cs"
fi
lang_pool lang-csharp-$n "\"/usr/bin/mono\", \"$BENCH_TMP/hello-csharp.exe\"" /usr/bin/mono "$BENCH_TMP/hello-csharp.exe"
lang_pool lang-ruby-$n "\"$EX/ruby/hello.rb\"" /usr/bin/ruby /usr/lib/ruby/vendor_ruby/fcgi.rb
lang_pool lang-node-$n "\"$EX/node/hello.js\"" /usr/bin/node
