#!/usr/bin/env bash
# gofpm-scenario.sh - the gofpm rows of `make bench`, in the format of the
# peers' scenarios (../shared/bench): nginx -> gofpm hello pool (static 2 and
# 8 workers), php-cgi and the C libfcgi hello as gofpm pools of 2 and 8, the
# built-in HTTP front -> the Go pool of 2, and the worker's
# GOMAXPROCS default against GOMAXPROCS=2. Run by bench/run.sh, which sets
# SHARED_BENCH, BUILD_DIR, GOFPM_BIN, HELLO_BIN, ROUND, DURATION, LOG_DIR.
# shellcheck source=/dev/null
source "$SHARED_BENCH/lib/common.sh"
# shellcheck source=gofpm-pool.sh
source "$(dirname "$0")/gofpm-pool.sh"
bench_init Z

# start_gofpm N [EXTRA_POOL_TOML] [PM_TOML] [COMMAND]: gofpm with a pool of N
# hello workers (static unless PM_TOML says otherwise) and the HTTP front on a
# free port. Sets UPSTREAM, FRONT_URL, GOFPM_PID.
start_gofpm() {
	local n=$1 extra=${2:-} pm=${3:-'pm = "static"'} command=${4:-\"$HELLO_BIN\"} sock=$BENCH_TMP/gofpm.sock port
	port=$(free_port $((PORT_BASE + 100)))
	cat >"$BENCH_TMP/pool.toml" <<TOML
error_log = "$BENCH_TMP/gofpm.log"
[pool.hello]
listen = "$sock"
listen_mode = "0666"
command = [$command]
$pm
pm_max_children = $n
$extra
[http]
listen = "127.0.0.1:$port"
default_pool = "hello"
root = "$BENCH_TMP/www"
TOML
	run_gofpm "$sock"
	FRONT_URL=http://127.0.0.1:$port
	# the front answers /hello for the Go worker; other workers are waited
	# for through nginx (wait_http after start_nginx)
	[[ $pm == *ondemand* || $command != \"$HELLO_BIN\" ]] || wait_http "$FRONT_URL/hello"
}

for n in ${GOFPM_CHILDREN:-2 8}; do
	start_gofpm "$n"
	start_nginx "$UPSTREAM"
	measure_all "gofpm-hello-$n" "$NGINX_URL/hello"
	emit_mem "gofpm-hello-$n" gofpm-worker $(children_of "$GOFPM_PID")
	emit_mem "gofpm-hello-$n" gofpm-master "$GOFPM_PID"
	stop_all
done

# The same pool sizes with php-cgi (the hello.php of scenario B) and with the
# C libfcgi hello of scenario F as gofpm's workers, behind the same nginx:
# gofpm + php-cgi against php-fpm, the Go worker against a C pool under gofpm.
for n in ${GOFPM_CHILDREN:-2 8}; do
	start_gofpm "$n" 'worker_graceful_signal = "SIGTERM"' 'pm = "static"' '"/usr/bin/php-cgi8.2"'
	start_nginx "$UPSTREAM"
	wait_http "$NGINX_URL/hello.php"
	measure_all "gofpm-phpcgi-$n" "$NGINX_URL/hello.php"
	stop_all
	if [[ -x $BUILD_DIR/hello_fcgi ]]; then
		start_gofpm "$n" "" 'pm = "static"' "\"$BUILD_DIR/hello_fcgi\""
		start_nginx "$UPSTREAM"
		wait_http "$NGINX_URL/hello"
		measure_all "gofpm-libfcgi-$n" "$NGINX_URL/hello"
		stop_all
	fi
done

# The built-in HTTP front in place of nginx (no nginx started: its CPU column is 0).
start_gofpm 2
measure_all "gofpm-front-2" "$FRONT_URL/hello"
stop_all

# The worker package's GOMAXPROCS default (1 per worker) against GOMAXPROCS=2.
start_gofpm 2 'env = { GOMAXPROCS = "2" }'
start_nginx "$UPSTREAM"
measure_all "gofpm-hello-2-gomaxprocs2" "$NGINX_URL/hello"
stop_all

# ondemand cold start, as scenario C measures php-fpm's: after the pool idled
# down to 0 processes, one request (a worker is forked for it), then at once a
# second (warm). Go worker, then php-cgi under gofpm.
gofpm_children() { children_of "$GOFPM_PID" | tr -d ' '; }
cold_samples() {
	local variant=$1 url=$2 s i cold warm
	for ((s = 1; s <= ${COLD_SAMPLES:-5}; s++)); do
		for ((i = 0; i < 300; i++)); do [[ -z $(gofpm_children) ]] && break; sleep 0.1; done
		[[ -z $(gofpm_children) ]] || die "ondemand pool did not idle down to 0"
		sleep 0.2
		cold=$("$CURL" -s -o /dev/null --max-time 10 -w '%{time_total}' "$url" | awk '{ printf "%.3f", $1 * 1000 }')
		warm=$("$CURL" -s -o /dev/null --max-time 10 -w '%{time_total}' "$url" | awk '{ printf "%.3f", $1 * 1000 }')
		emit cold "$variant" "$s" "$cold" "$warm"
		log "$variant cold first request ${cold}ms, next request ${warm}ms"
	done
}
OD='pm = "ondemand"
pm_process_idle_timeout = "2s"'
start_gofpm 8 "" "$OD"
start_nginx "$UPSTREAM"
cold_samples gofpm-ondemand-go "$NGINX_URL/hello"
stop_all
start_gofpm 8 'worker_graceful_signal = "SIGTERM"' "$OD" '"/usr/bin/php-cgi8.2"'
start_nginx "$UPSTREAM"
cold_samples gofpm-ondemand-phpcgi "$NGINX_URL/hello.php"
stop_all
