# gofpm-pool.sh - sourced by the gofpm scenarios after common.sh.

# run_gofpm SOCK: gofpm on $BENCH_TMP/pool.toml, waiting for the pool's
# socket SOCK. Sets UPSTREAM, GOFPM_PID, BACKEND_ROOTS.
run_gofpm() {
	local root=""
	((EUID == 0)) && root=-R
	bg_start gofpm-master "$GOFPM_BIN" run -c "$BENCH_TMP/pool.toml" $root --log-format json
	GOFPM_PID=$BG_PID
	wait_socket "$1"
	UPSTREAM=unix:$1
	BACKEND_ROOTS=$GOFPM_PID
}

# start_gofpm_pool N POOL_TOML starts gofpm with one static pool "p" of N
# workers on $BENCH_TMP/gofpm.sock (the TOML lines given added to the
# pool), no HTTP front. Sets what run_gofpm sets.
start_gofpm_pool() {
	local n=$1 sock=$BENCH_TMP/gofpm.sock
	cat >"$BENCH_TMP/pool.toml" <<TOML
error_log = "$BENCH_TMP/gofpm.log"
[pool.p]
listen = "$sock"
listen_mode = "0666"
pm = "static"
pm_max_children = $n
$2
TOML
	run_gofpm "$sock"
}
