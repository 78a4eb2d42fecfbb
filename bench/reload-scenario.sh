#!/usr/bin/env bash
# reload-scenario.sh - gofpm's rows for the reload storm of the peers'
# scenario I: while wrk runs through nginx against a gofpm static pool of
# $FPM_CHILDREN (default 8), SIGUSR2 goes to the current master (pid file)
# $RELOADS times (default 3), every $RELOAD_EVERY s. A Go pool (hello) and a
# php-cgi pool (hello.php). Rows: wrk (non2xx, sockerr), errlog (nginx
# error-log lines by cause, reloads logged). Run by bench/run.sh (R).
# shellcheck source=/dev/null
source "$SHARED_BENCH/lib/common.sh"
bench_init R
N=${FPM_CHILDREN:-8}
RELOADS=${RELOADS:-3}
RELOAD_EVERY=${RELOAD_EVERY:-2}
RUN_FOR=${RELOAD_DURATION:-$((RELOADS * RELOAD_EVERY + 3))s}

reload_gofpm() {
	local i pid
	for ((i = 1; i <= RELOADS; i++)); do
		sleep "$RELOAD_EVERY"
		pid=$(cat "$BENCH_TMP/gofpm.pid" 2>/dev/null || true)
		# only ever signal our own master (guards against PID reuse)
		if [[ -n $pid ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$BENCH_TMP/pool.toml"; then
			kill -USR2 "$pid"
		else
			log "gofpm master $pid is gone; not signalling"
			return 1
		fi
	done
}

count_errlog() {
	local variant=$1 conns=$2 from=$3 f=$BENCH_TMP/nginx-error.log
	tail -n +"$((from + 1))" "$f" | awk '
		/\[(error|crit|alert|emerg)\]/ {
			c = "other"
			if (/Resource temporarily unavailable/) c = "connect-EAGAIN(backlog-full)"
			else if (/Connection refused/) c = "connect-ECONNREFUSED"
			else if (/No such file or directory/) c = "connect-ENOENT(no-socket)"
			else if (/Connection reset by peer/) c = "ECONNRESET"
			else if (/prematurely closed/) c = "upstream-prematurely-closed"
			else if (/Broken pipe/) c = "EPIPE"
			else if (/timed out/) c = "timeout"
			n[c]++
		}
		END { for (c in n) print c "\t" n[c] }' | sort |
		while IFS=$'\t' read -r cat cnt; do emit errlog "$variant" "$conns" "$cat" "$cnt"; done
}

for kind in go php-cgi; do
	cmd="\"$HELLO_BIN\""
	extra=""
	url=/hello
	if [[ $kind == php-cgi ]]; then
		cmd='"/usr/bin/php-cgi8.2"'
		extra='worker_graceful_signal = "SIGTERM"'
		url=/hello.php
	fi
	cat >"$BENCH_TMP/pool.toml" <<TOML
pid = "$BENCH_TMP/gofpm.pid"
error_log = "$BENCH_TMP/gofpm.log"
[pool.www]
listen = "$BENCH_TMP/gofpm.sock"
listen_mode = "0666"
command = [$cmd]
$extra
pm = "static"
pm_max_children = $N
TOML
	root=""
	((EUID == 0)) && root=-R
	# setsid: the masters that reloads start stay in this process group, so
	# stop_all ends them all.
	bg_start gofpm "$GOFPM_BIN" run -c "$BENCH_TMP/pool.toml" $root --log-format json
	wait_socket "$BENCH_TMP/gofpm.sock"
	UPSTREAM=unix:$BENCH_TMP/gofpm.sock
	BACKEND_ROOTS=$BG_PID
	start_nginx "$UPSTREAM"
	wait_http "$NGINX_URL$url"
	variant="gofpm-$kind-static-$N-usr2x$RELOADS"
	for c in $CONNS; do
		from=$(wc -l <"$BENCH_TMP/nginx-error.log")
		r0=$(grep -c 'is ready; the old workers' "$BENCH_TMP/gofpm.log" || true)
		CPU_BACKEND_IS_REST=1 WRK_SIDE_FN=reload_gofpm run_wrk "$variant" "$NGINX_URL$url" "$c" "$RUN_FOR"
		r1=$(grep -c 'is ready; the old workers' "$BENCH_TMP/gofpm.log" || true)
		emit errlog "$variant" "$c" "gofpm-reloads-done" "$((r1 - r0))"
		count_errlog "$variant" "$c" "$from"
		wait_http "$NGINX_URL$url"
	done
	pid=$(cat "$BENCH_TMP/gofpm.pid" 2>/dev/null || true)
	[[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
	stop_all
done
