#!/usr/bin/env bash
# cgi-scenario.sh - scenario P of `make bench`: pooled workers against
# fork-per-request CGI, on the scripts of examples/cgi, all behind the same
# nginx (one connection per request, as in every peer scenario):
#
#   fcgiwrap-sh      fcgiwrap -c 2 running examples/cgi/www/hello.sh (the peers' E, on our script)
#   bridge-sh        gofpm's CGI bridge (worker = "cgi", 2 workers), the same hello.sh
#   fcgiwrap-pl      fcgiwrap -c 2 running examples/cgi/www/hello.pl as a CGI (perl starts per request)
#   bridge-pl        gofpm's CGI bridge, the same hello.pl as a CGI
#   pooled-pl        the same hello.pl as a pooled FastCGI worker, gofpm static 2
#   pooled-go        the Go worker (examples/hello, /api/) answering the same JSON, gofpm static 2
#
# bench/ratios.sh prints pooled-pl / bridge-pl (same file, pooled or forked)
# and pooled-go / bridge-sh, and bridge / fcgiwrap. Run by bench/run.sh
# (SCENARIOS="P" bench/run.sh -r 1), which sets SHARED_BENCH, BUILD_DIR,
# GOFPM_BIN, HELLO_BIN, ROUND, DURATION, LOG_DIR.
# shellcheck source=/dev/null
source "$SHARED_BENCH/lib/common.sh"
# shellcheck source=gofpm-pool.sh
source "$(dirname "$0")/gofpm-pool.sh"
bench_init P
# shellcheck source=pool-lib.sh
source "$(dirname "$0")/pool-lib.sh"
EXAMPLE=$(cd "$(dirname "$0")/../examples/cgi/www" && pwd)
mkdir -p "$BENCH_TMP/www/ex"
cp "$EXAMPLE/hello.sh" "$EXAMPLE/hello.pl" "$BENCH_TMP/www/ex/"
n=${CGI_CHILDREN:-2}

# fcgiwrap ignores SIGCHLD: its CGI children are auto-reaped and their CPU
# time never reaches it; count everything but wrk and nginx as backend.
start_fcgiwrap "$n"
start_nginx "$UPSTREAM"
wait_json "$NGINX_URL/ex/hello.sh"
CPU_BACKEND_IS_REST=1 measure_all fcgiwrap-sh "$NGINX_URL/ex/hello.sh?x=1"
CPU_BACKEND_IS_REST=1 measure_all fcgiwrap-pl "$NGINX_URL/ex/hello.pl?x=1"
stop_all

# The bridge waits for its scripts: their CPU time lands in its cutime.
start_pool "worker = \"cgi\"
root = \"$BENCH_TMP/www\"
security_limit_extensions = [\".sh\", \".pl\"]"
start_nginx "$UPSTREAM"
wait_json "$NGINX_URL/ex/hello.sh"
measure_all bridge-sh "$NGINX_URL/ex/hello.sh?x=1"
measure_all bridge-pl "$NGINX_URL/ex/hello.pl?x=1"
emit_mem bridge gofpm-cgi-worker $(children_of "$GOFPM_PID")
stop_all

start_pool "command = [\"$BENCH_TMP/www/ex/hello.pl\"]
worker_graceful_signal = \"SIGTERM\""
start_nginx "$UPSTREAM"
wait_json "$NGINX_URL/ex/hello.pl"
measure_all pooled-pl "$NGINX_URL/ex/hello.pl?x=1"
emit_mem pooled-pl perl-worker $(children_of "$GOFPM_PID")
stop_all

start_pool "command = [\"$HELLO_BIN\"]"
start_nginx "$UPSTREAM"
wait_json "$NGINX_URL/api/x"
measure_all pooled-go "$NGINX_URL/api/x?x=1"
stop_all
