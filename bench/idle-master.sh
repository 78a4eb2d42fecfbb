#!/usr/bin/env bash
# idle-master.sh - the master's CPU with many idle workers (issue: goal <= 1 %
# of a core with 200 idle workers in a dynamic pool over 60 s).
#
#   bench/idle-master.sh                  200 Go workers (scoreboard), 60 s
#   WORKER=php bench/idle-master.sh       200 php-cgi workers (kernel-derived state)
#   N=50 SECONDS_=20 bench/idle-master.sh
#
# Starts gofpm on a temp dir, waits until every worker has started, then
# reads the master's utime+stime from /proc before and after the window.
# Stops everything it started, by pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-200}
WIN=${SECONDS_:-60}
WORKER=${WORKER:-go}
(cd "$ROOT" && make -s build)
TMP=$(mktemp -d /tmp/gofpm-idle.XXXXXX)
PID=""
cleanup() {
	if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		for _ in $(seq 1 200); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
cmd="\"$ROOT/bin/hello\""
extra=""
if [[ $WORKER == php ]]; then
	cmd='"/usr/bin/php-cgi8.2"'
	extra='worker_graceful_signal = "SIGTERM"'
fi
cat >"$TMP/pool.toml" <<TOML
[pool.idle]
listen = "$TMP/idle.sock"
command = [$cmd]
$extra
pm = "dynamic"
pm_max_children = $N
pm_start_servers = $N
pm_min_spare_servers = 1
pm_max_spare_servers = $N
TOML
root=""
((EUID == 0)) && root=-R
"$ROOT/bin/gofpm" run -c "$TMP/pool.toml" $root --log-format json 2>"$TMP/log" &
PID=$!
for _ in $(seq 1 600); do
	[[ $(grep -c '] child .* started' "$TMP/log" || true) -ge $N ]] && break
	sleep 0.1
done
started=$(grep -c '] child .* started' "$TMP/log" || true)
[[ $started -ge $N ]] || { echo "only $started of $N workers started" >&2; exit 1; }
sleep 2 # let the start-up settle before the window
ticks() { awk '{ sub(/^.*\) /, ""); split($0, s, " "); print s[12] + s[13] }' "/proc/$PID/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
sleep "$WIN"
t1=$(ticks)
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status")
awk -v a="$t0" -v b="$t1" -v hz="$hz" -v w="$WIN" -v n="$N" -v k="$WORKER" -v rss="$rss" \
	'BEGIN { printf "master CPU with %d idle %s workers over %d s: %.2f %% of a core (%d ticks), master RSS %.1f MiB\n", n, k, w, 100 * (b - a) / hz / w, b - a, rss / 1024 }'
