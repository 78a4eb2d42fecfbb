#!/usr/bin/env bash
# dispatch-scenario.sh - scenario D of `make bench` (issue 13): nginx ->
# gofpm php-cgi hello pool with dispatch = "socket" against dispatch =
# "master", at 2 and 8 workers, and the same for the Go hello worker; for
# the master mode also the master's own CPU per relayed request, in µs
# (its utime+stime over the run, divided by the requests wrk counted), as
# `dispatch` rows: dispatch ROUND D VARIANT CONNS US_PER_REQUEST
# MASTER_CPU_PERCENT (of one core, at wrk's request rate). Run by bench/run.sh, which sets SHARED_BENCH,
# BUILD_DIR, GOFPM_BIN, HELLO_BIN, ROUND, DURATION, LOG_DIR.
# shellcheck source=/dev/null
source "$SHARED_BENCH/lib/common.sh"
# shellcheck source=gofpm-pool.sh
source "$(dirname "$0")/gofpm-pool.sh"
bench_init D

PHPCGI=${PHPCGI:-/usr/bin/php-cgi8.2}

# start_pool N MODE COMMAND: gofpm with a static pool of N workers of
# COMMAND in dispatch mode MODE. Sets UPSTREAM, GOFPM_PID.
start_pool() {
	start_gofpm_pool "$1" "command = [$3]
worker_graceful_signal = \"SIGTERM\"
dispatch = \"$2\""
}

# own_ticks PID: utime + stime of PID alone (not its children).
own_ticks() { awk '{ sub(/^.*\) /, ""); split($0, s, " "); print s[12] + s[13] }' "/proc/$1/stat"; }

# measure VARIANT URL: wrk at each $CONNS; in the master mode, the
# master's CPU per request too.
measure() {
	local variant=$1 url=$2 c t0 t1 reqs rps out row
	warmup "$url"
	for c in $CONNS; do
		t0=$(own_ticks "$GOFPM_PID")
		run_wrk "$variant" "$url" "$c"
		t1=$(own_ticks "$GOFPM_PID")
		out="$LOG_DIR/${SCENARIO}_${variant}${VARIANT_SUFFIX:-}_c${c}_r${ROUND}.txt"
		reqs=$(awk '/requests in/ { print $1; exit }' "$out")
		rps=$(awk '/Requests\/sec/ { print $2; exit }' "$out")
		[[ -n $reqs && $reqs -gt 0 && -n $rps ]] || continue
		# µs of master CPU per request, and the share of one core that is
		# at wrk's rate (µs x req/s).
		row=$(awk -v t="$((t1 - t0))" -v r="$reqs" -v hz="$CLK_TCK" -v rps="$rps" \
			'BEGIN { us = t / hz * 1e6 / r; printf "%.1f\t%.0f", us, us * rps / 1e4 }')
		emit dispatch "$variant" "$c" "$row"
		log "$variant c=$c: master $(cut -f1 <<<"$row") µs CPU per request, $(cut -f2 <<<"$row")% of a core"
	done
}

for n in ${DISPATCH_CHILDREN:-2 8}; do
	for mode in socket master; do
		start_pool "$n" "$mode" "\"$PHPCGI\""
		start_nginx "$UPSTREAM"
		measure "phpcgi-$mode-$n" "$NGINX_URL/hello.php"
		stop_all
		start_pool "$n" "$mode" "\"$HELLO_BIN\""
		start_nginx "$UPSTREAM"
		measure "go-$mode-$n" "$NGINX_URL/hello"
		stop_all
	done
done
