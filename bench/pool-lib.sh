# pool-lib.sh - helpers shared by gofpm's own scenarios (cgi-scenario.sh,
# languages-scenario.sh); sourced after ../shared/bench's lib/common.sh.
# start_pool reads $n, the pool size.

# wait_json URL: until URL answers the examples' JSON ({"lang": ...}).
wait_json() {
	local i body
	for ((i = 0; i < 150; i++)); do
		body=$("$CURL" -s --max-time 2 "$1" 2>/dev/null || true)
		[[ $body == '{"lang"'* ]] && return 0
		sleep 0.1
	done
	die "no JSON from $1 after 15s (last body: ${body:0:200})"
}

# start_pool POOL_TOML: gofpm with one pool "p" on $BENCH_TMP/gofpm.sock
# (the TOML lines given), no HTTP front. Sets UPSTREAM, GOFPM_PID.
start_pool() {
	local sock=$BENCH_TMP/gofpm.sock root=""
	cat >"$BENCH_TMP/pool.toml" <<TOML
error_log = "$BENCH_TMP/gofpm.log"
[pool.p]
listen = "$sock"
listen_mode = "0666"
pm = "static"
pm_max_children = $n
$1
TOML
	((EUID == 0)) && root=-R
	bg_start gofpm-master "$GOFPM_BIN" run -c "$BENCH_TMP/pool.toml" $root --log-format json
	GOFPM_PID=$BG_PID
	wait_socket "$sock"
	UPSTREAM=unix:$sock
	BACKEND_ROOTS=$GOFPM_PID
}
