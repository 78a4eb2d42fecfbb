# gofpm-pool.sh - sourced by the gofpm scenarios after common.sh:
# start_gofpm_pool N POOL_TOML starts gofpm with one static pool "p" of N
# workers on $BENCH_TMP/gofpm.sock (the TOML lines given added to the
# pool), no HTTP front, and waits for the socket. Sets UPSTREAM, GOFPM_PID,
# BACKEND_ROOTS.
start_gofpm_pool() {
	local n=$1 sock=$BENCH_TMP/gofpm.sock root=""
	cat >"$BENCH_TMP/pool.toml" <<TOML
error_log = "$BENCH_TMP/gofpm.log"
[pool.p]
listen = "$sock"
listen_mode = "0666"
pm = "static"
pm_max_children = $n
$2
TOML
	((EUID == 0)) && root=-R
	bg_start gofpm-master "$GOFPM_BIN" run -c "$BENCH_TMP/pool.toml" $root --log-format json
	GOFPM_PID=$BG_PID
	wait_socket "$sock"
	UPSTREAM=unix:$sock
	BACKEND_ROOTS=$GOFPM_PID
}
