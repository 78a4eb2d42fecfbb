# pool-lib.sh - helpers shared by gofpm's own scenarios (cgi-scenario.sh,
# languages-scenario.sh); sourced after ../shared/bench's lib/common.sh and
# gofpm-pool.sh.
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

# start_pool POOL_TOML: gofpm with one static pool "p" of $n workers on
# $BENCH_TMP/gofpm.sock (the TOML lines given), no HTTP front
# (start_gofpm_pool of gofpm-pool.sh, which the scenario sources first).
start_pool() { start_gofpm_pool "$n" "$1"; }
