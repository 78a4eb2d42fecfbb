#!/usr/bin/env bash
# php-scenario.sh - PHP side by side, in one run, behind the same nginx, at
# equal children (PHP_CHILDREN, default 4), as www-data, on Debian's
# php8.2-fpm and php8.2-cgi (the same php.ini and conf.d):
#
#   fpm     php-fpm 8.2, pm = static
#   exec    gofpm, worker = "exec": one php-cgi process per worker (cold)
#   php     gofpm, worker = "php": one php-cgi parent forks the workers (warm)
#
# on hello.php and on MediaWiki 1.39 (Debian's package mediawiki, on SQLite,
# installed into a temp dir; /etc/mediawiki is not touched). Per round and
# setup: throughput (wrk, PHP_CHILDREN connections, DURATION s per page),
# workers' memory (sum of Pss over every PHP process, master or parent
# included, from /proc/PID/smaps_rollup, after the load), and the first
# answer of a fresh worker (a pool of 1: kill -9 the child, time until the
# MediaWiki page answers 200). Then ondemand, first request after idle:
# php-fpm ondemand against gofpm worker = "exec" ondemand, cold and with
# opcache.file_cache in the pool's folder. MW_SETTINGS adds lines to
# LocalSettings.php. Rounds interleave the setups
# (ROUNDS, default 3); the summary gives medians and ratios to php-fpm.
# Needs root (workers as www-data), nginx, wrk, php8.2-fpm, php8.2-cgi,
# mediawiki, php8.2-sqlite3. Not a test: numbers, never asserted.
set -euo pipefail
N=${PHP_CHILDREN:-4}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
GOFPM_BIN=${GOFPM_BIN:-$HERE/gofpm}
PHPCGI=/usr/bin/php-cgi8.2
FPM=/usr/sbin/php-fpm8.2
MW=/usr/share/mediawiki
((EUID == 0)) || { echo "php-scenario: run as root (workers run as www-data)" >&2; exit 1; }
for b in nginx wrk curl "$FPM" "$PHPCGI" "$GOFPM_BIN"; do
	command -v "$b" >/dev/null || { echo "php-scenario: $b is missing" >&2; exit 1; }
done
[[ -d $MW ]] || { echo "php-scenario: MediaWiki is not installed (apt-get install mediawiki)" >&2; exit 1; }

T=$(mktemp -d /tmp/gofpm-php-bench.XXXXXX)
chmod 755 "$T"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 -- "-$p" "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

# MediaWiki on SQLite, its LocalSettings.php in the temp dir.
mkdir -p "$T/mw/conf" "$T/mw/data" "$T/www"
php "$MW/maintenance/install.php" --dbtype sqlite --dbpath "$T/mw/data" --dbname wiki \
	--confpath "$T/mw/conf" --server http://localhost --scriptpath "" \
	--pass 'gofpm-bench-Pass1' --lang en --quiet BenchWiki Admin >"$T/mw-install.log" 2>&1
chown -R www-data:www-data "$T/mw/data"
# MW_SETTINGS: PHP lines appended to LocalSettings.php ('$wgJobRunRate = 0;').
[[ -z ${MW_SETTINGS:-} ]] || printf '%s\n' "$MW_SETTINGS" >>"$T/mw/conf/LocalSettings.php"
echo '<?php echo "hello from ", getmypid(), "\n";' >"$T/www/hello.php"

# nginx: one server per backend socket.
# Free loopback ports, one per backend (others may run benches too).
read -r P_FPM P_EXEC P_PHP < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
port_of() { case $1 in fpm) echo "$P_FPM" ;; exec) echo "$P_EXEC" ;; php) echo "$P_PHP" ;; esac; }
{
	echo "worker_processes 1; pid $T/nginx.pid; error_log $T/nginx.err; daemon off;"
	echo "events { worker_connections 1024; }"
	echo "http { access_log off; client_body_temp_path $T/nb; fastcgi_temp_path $T/nf;"
	for s in fpm exec php; do
		cat <<NGINX
 server { listen 127.0.0.1:$(port_of $s); root $MW;
  location = /hello.php { root $T/www; include /etc/nginx/fastcgi_params;
   fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name; fastcgi_pass unix:$T/$s.sock; }
  location ~ \.php\$ { try_files \$fastcgi_script_name =404; include /etc/nginx/fastcgi_params;
   fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
   fastcgi_param MW_CONFIG_FILE $T/mw/conf/LocalSettings.php; fastcgi_pass unix:$T/$s.sock; } }
NGINX
	done
	echo "}"
} >"$T/nginx.conf"
setsid nginx -c "$T/nginx.conf" &
PIDS+=($!)

# start SETUP PM CHILDREN [EXTRA]: the backend; sets ROOT (the pid whose
# process tree holds every PHP process of the setup).
start() {
	local s=$1 pm=$2 n=$3 extra=${4:-}
	rm -f "$T/$s.sock"
	case $s in
	fpm)
		cat >"$T/fpm.conf" <<INI
[global]
pid = $T/fpm.pid
error_log = $T/fpm.log
daemonize = no
[www]
user = www-data
group = www-data
listen = $T/fpm.sock
listen.mode = 0666
pm = $pm
pm.max_children = $n
pm.process_idle_timeout = 1s
$extra
INI
		"$FPM" -y "$T/fpm.conf" -F &
		;;
	exec | php)
		cat >"$T/$s.toml" <<TOML
error_log = "$T/$s.log"
[pool.w]
listen = "$T/$s.sock"
listen_mode = "0666"
user = "www-data"
command = ["$PHPCGI"]
worker = "$s"
worker_graceful_signal = "SIGTERM"
pm = "$pm"
pm_max_children = $n
pm_process_idle_timeout = "1s"
$extra
TOML
		"$GOFPM_BIN" run -c "$T/$s.toml" &
		;;
	esac
	ROOT=$!
	PIDS+=("$ROOT")
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -S $T/$s.sock ]] && curl -sf -o /dev/null "http://127.0.0.1:$(port_of "$s")/hello.php" && return 0
		sleep 0.05
	done
	echo "php-scenario: $s did not answer" >&2
	exit 1
}
stop() { kill -TERM "$ROOT" 2>/dev/null || true; wait "$ROOT" 2>/dev/null || true; }

# tree PID: PID and its descendants.
tree() {
	local p c
	echo "$1"
	for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree "$p"; done
}
# is_php PID: the process runs a PHP binary (php-fpm8.2, php-cgi8.2).
is_php() {
	local exe
	exe=$(readlink /proc/"$1"/exe 2>/dev/null) || return 1
	[[ ${exe##*/} == php* ]]
}
# php_pss: KiB of Pss summed over the PHP processes of ROOT's tree.
php_pss() {
	local p sum=0 kb
	for p in $(tree "$ROOT"); do
		is_php "$p" || continue
		kb=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)
		sum=$((sum + ${kb:-0}))
	done
	echo "$sum"
}
rps() { wrk -t2 -c"$N" -d"${DURATION}s" "$1" 2>/dev/null | awk '/Requests\/sec/ {print $2}'; }
# ms CMD...: wall time of CMD in milliseconds.
ms() {
	local a b
	a=$(date +%s%N)
	"$@" >/dev/null
	b=$(date +%s%N)
	printf '%d.%02d\n' $(((b - a) / 1000000)) $((((b - a) / 10000) % 100))
}
page() { curl -sf -o /dev/null --max-time 30 "$1"; }
# php_children: the PHP worker pids of ROOT's tree (not the masters).
php_workers() {
	local p
	for p in $(tree "$ROOT"); do
		is_php "$p" || continue
		[[ $(tr '\0' ' ' </proc/"$p"/cmdline) == *"master process"* ]] && continue
		# the worker = "php" parent: its children are the workers
		[[ -n $(cat /proc/"$p"/task/*/children 2>/dev/null) && $(readlink /proc/"$p"/exe) == *php-cgi* ]] && continue
		echo "$p"
	done
}

R="$T/results"
: >"$R"
# What an idle forked child costs: Pss of a pool of 8 minus a pool of 1,
# each after one MediaWiki page, per extra child.
for s in fpm php; do
	url="http://127.0.0.1:$(port_of $s)"
	start "$s" static 1
	page "$url/index.php?title=Main_Page"
	one=$(php_pss)
	stop
	start "$s" static 8
	page "$url/index.php?title=Main_Page"
	for ((i = 0; i < 100; i++)); do (($(php_workers | wc -l) >= 8)) && break; sleep 0.05; done
	eight=$(php_pss)
	stop
	echo "0 $s idle_child_kib $(((eight - one) / 7))" >>"$R"
done
[[ ${ONLY_IDLE:-} ]] && { cat "$R"; exit 0; }
for ((r = 1; r <= ROUNDS; r++)); do
	for s in fpm exec php; do
		url="http://127.0.0.1:$(port_of $s)"
		start "$s" static "$N"
		for ((i = 0; i < 3 * N; i++)); do page "$url/index.php?title=Main_Page"; done
		echo "$r $s hello_rps $(rps "$url/hello.php")" >>"$R"
		echo "$r $s mw_rps $(rps "$url/index.php?title=Main_Page")" >>"$R"
		echo "$r $s pss_kib $(php_pss)" >>"$R"
		stop
		# The first answer of a fresh worker: a pool of one.
		start "$s" static 1
		page "$url/index.php?title=Main_Page"
		page "$url/index.php?title=Main_Page"
		w=$(php_workers | sed -n 1p)
		kill -9 "$w"
		echo "$r $s fresh_ms $(ms page "$url/index.php?title=Main_Page")" >>"$R"
		stop
	done
	# ondemand: the first request after the idle timeout (1s) retired the worker.
	for s in fpm exec exec-file-cache; do
		b=${s%-file-cache}
		url="http://127.0.0.1:$(port_of "$b")"
		extra=""
		if [[ $s == exec-file-cache ]]; then
			mkdir -p "$T/opcache" && chown www-data "$T/opcache"
			extra="php_admin_value = { \"opcache.file_cache\" = \"$T/opcache\" }"
		fi
		start "$b" ondemand 1 "$extra"
		page "$url/index.php?title=Main_Page"
		for ((i = 0; i < 60; i++)); do [[ -z $(php_workers) ]] && break; sleep 0.1; done
		echo "$r ondemand-$s idle_first_ms $(ms page "$url/index.php?title=Main_Page")" >>"$R"
		stop
	done
done

echo "# php-scenario: $N children, $ROUNDS rounds, ${DURATION}s per page; medians; ratio to php-fpm"
awk '
{ v[$2" "$3] = v[$2" "$3] " " $4 }
function median(list,   a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
	split("hello_rps mw_rps pss_kib fresh_ms", ms, " ")
	printf "%-14s %12s %12s %12s %12s\n", "metric", "php-fpm", "gofpm exec", "gofpm php", "php/fpm"
	for (k = 1; k <= 4; k++) {
		m = ms[k]; f = median(v["fpm " m]); e = median(v["exec " m]); p = median(v["php " m])
		printf "%-14s %12.1f %12.1f %12.1f %11.2fx\n", m, f, e, p, (f ? p / f : 0)
	}
	printf "%-14s %12.1f %12s %12.1f %11.2fx\n", "idle_child_kib", v["fpm idle_child_kib"], "-", v["php idle_child_kib"], (v["fpm idle_child_kib"] ? v["php idle_child_kib"] / v["fpm idle_child_kib"] : 0)
	f = median(v["ondemand-fpm idle_first_ms"]); e = median(v["ondemand-exec idle_first_ms"]); c = median(v["ondemand-exec-file-cache idle_first_ms"])
	printf "%-14s %12.1f %12.1f %12s  (gofpm exec + opcache.file_cache: %.1f ms, %.2fx)\n", "ondemand_ms", f, e, "-", c, (f ? c / f : 0)
}' "$R"
echo "# raw: round setup metric value"
cat "$R"
