#!/usr/bin/env bash
# bench/run.sh - gofpm beside its peers, measured in one run on this machine.
#
#   bench/run.sh                 3 rounds of: php-fpm static (B), C libfcgi (F), gofpm (Z),
#                                pooled against CGI (P), the dispatch modes (D), the reload storms (I, R),
#                                the examples' languages (L)
#   bench/run.sh -r 5 -d 10s     5 rounds, wrk -d 10s
#   CONNS="16" bench/run.sh      only 16 connections
#   SCENARIOS="Z" bench/run.sh   only gofpm (B = php-fpm static, C = php-fpm dynamic and
#                                ondemand with cold start, F = C libfcgi, Z = gofpm,
#                                I = php-fpm reload storm, R = gofpm reload storm,
#                                P = pooled workers against gofpm's CGI bridge and fcgiwrap,
#                                D = dispatch = "master" against "socket", php-cgi and Go)
#                                L = the hello JSON from Go, Python, C#, Ruby, Node, pools of 2)
#   SCENARIOS="P" bench/run.sh -r 1   pooled against fork-per-request CGI, one round
#   SCENARIOS="I R" RELOADS=10 bench/run.sh -r 1   the reload storm, php-fpm beside gofpm
#
# The peers' scenarios and helpers come from ../shared/bench (SHARED_BENCH);
# they start only what they need on 127.0.0.1 and in temp dirs, and stop it
# by pid. Needs nginx, php-fpm8.2, spawn-fcgi, fcgiwrap, libfcgi-dev,
# libfcgi-perl, wrk, curl, cc. Output: a summary table (medians over rounds,
# then bench/ratios.sh's ratios) and the raw rows, in bench/results/<timestamp>/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || true)}
[[ -n $SHARED_BENCH && -f $SHARED_BENCH/lib/common.sh ]] || { echo "bench: ../shared/bench not found; set SHARED_BENCH" >&2; exit 1; }
ROUNDS=3
DUR=${DURATION:-5s}
while getopts "r:d:" opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;;
	d) DUR=$OPTARG ;;
	*) sed -n '2,16p' "$0"; exit 2 ;;
	esac
done
OUT=$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT/logs"
export BUILD_DIR=${BUILD_DIR:-$(mktemp -d /tmp/gofpm-bench-build.XXXXXX)}
"$SHARED_BENCH/build.sh"
(cd "$ROOT" && make -s build)
export SHARED_BENCH GOFPM_BIN=$ROOT/bin/gofpm HELLO_BIN=$ROOT/bin/hello
{
	echo "date: $(date -Is)"
	echo "host: $(nproc) cpus, kernel $(uname -r)"
	echo "gofpm: $("$GOFPM_BIN" version)"
	echo "nginx: $(/usr/sbin/nginx -v 2>&1)"
	echo "php-fpm: $(/usr/sbin/php-fpm8.2 -v | head -1)"
	echo "settings: rounds=$ROUNDS duration=$DUR conns=${CONNS:-16 64}"
} | tee "$OUT/env.txt" >&2
for ((r = 1; r <= ROUNDS; r++)); do
	for letter in ${SCENARIOS:-B F Z P D I R L}; do
		case $letter in
		B) s=$SHARED_BENCH/scenarios/B-phpfpm-static.sh ;;
		C) s=$SHARED_BENCH/scenarios/C-phpfpm-dynamic-ondemand.sh ;;
		F) s=$SHARED_BENCH/scenarios/F-libfcgi-c.sh ;;
		I) s=$SHARED_BENCH/scenarios/I-phpfpm-reload.sh ;;
		R) s=$HERE/reload-scenario.sh ;;
		Z) s=$HERE/gofpm-scenario.sh ;;
		P) s=$HERE/cgi-scenario.sh ;;
		L) s=$HERE/languages-scenario.sh ;;
		D) s=$HERE/dispatch-scenario.sh ;;
		*) echo "unknown scenario $letter" >&2; exit 2 ;;
		esac
		echo "=== round $r/$ROUNDS: $(basename "$s")" >&2
		ROUND=$r DURATION=$DUR LOG_DIR=$OUT/logs bash "$s" >>"$OUT/raw.tsv" ||
			echo "!!! $(basename "$s") failed in round $r" >&2
	done
done
{
	"$BUILD_DIR/summarize" "$OUT/raw.tsv"
	"$HERE/ratios.sh" "$OUT/raw.tsv"
} | tee "$OUT/summary.md"
echo "results: $OUT" >&2
