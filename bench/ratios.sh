#!/usr/bin/env bash
# ratios.sh RAW.TSV... - the comparisons gofpm's scenarios are for, as a
# markdown table: median req/s of one variant over another's, per wrk -c.
# Pairs whose rows are missing (scenario not run) are left out. bench/run.sh
# appends this to summary.md.
set -euo pipefail
awk -F'\t' '
	$1 == "wrk" { k = $3 "/" $4 SUBSEP $5; n[k]++; v[k, n[k]] = $6; conns[$5] = 1 }
	function med(k,   m, i, j, t, a) {
		m = n[k]; if (!m) return 0
		for (i = 1; i <= m; i++) a[i] = v[k, i]
		for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	}
	END {
		np = split("Z/gofpm-hello-2 B/static-2 gofpm Go worker / php-fpm static, 2 workers;" \
			"Z/gofpm-hello-8 B/static-8 gofpm Go worker / php-fpm static, 8 workers;" \
			"Z/gofpm-hello-2 Z/gofpm-libfcgi-2 gofpm Go worker / C libfcgi pool under gofpm, 2 workers;" \
			"Z/gofpm-hello-8 Z/gofpm-libfcgi-8 gofpm Go worker / C libfcgi pool under gofpm, 8 workers;" \
			"Z/gofpm-hello-2 F/libfcgi-F2 gofpm Go worker / C libfcgi under spawn-fcgi, 2 workers;" \
			"Z/gofpm-hello-8 F/libfcgi-F8 gofpm Go worker / C libfcgi under spawn-fcgi, 8 workers;" \
			"Z/gofpm-hello-8 Z/gofpm-hello-2 gofpm Go worker: 8 workers / 2 workers;" \
			"Z/gofpm-phpcgi-2 B/static-2 gofpm + php-cgi / php-fpm static, 2 workers;" \
			"Z/gofpm-phpcgi-8 B/static-8 gofpm + php-cgi / php-fpm static, 8 workers;" \
			"P/pooled-pl P/bridge-pl same hello.pl: pooled FastCGI worker / run as a CGI by the bridge;" \
			"P/pooled-go P/bridge-sh Go worker (same JSON) / hello.sh through the bridge;" \
			"P/bridge-sh P/fcgiwrap-sh hello.sh: gofpm CGI bridge / fcgiwrap;" \
			"P/bridge-pl P/fcgiwrap-pl hello.pl as a CGI: gofpm CGI bridge / fcgiwrap;" \
			"Z/gofpm-front-2 Z/gofpm-hello-2 gofpm HTTP front / nginx, same pool of 2 Go workers;" \
			"D/phpcgi-master-2 D/phpcgi-socket-2 php-cgi hello, 2 workers: dispatch master / socket;" \
			"D/phpcgi-master-8 D/phpcgi-socket-8 php-cgi hello, 8 workers: dispatch master / socket;" \
			"D/go-master-2 D/go-socket-2 Go hello, 2 workers: dispatch master / socket;" \
			"D/go-master-8 D/go-socket-8 Go hello, 8 workers: dispatch master / socket", pairs, ";")
		cs = ""; for (c in conns) cs = cs (cs == "" ? "" : " ") c
		nc = split(cs, cl, " ")
		for (i = 2; i <= nc; i++) for (j = i; j > 1 && cl[j - 1] + 0 > cl[j] + 0; j--) { t = cl[j]; cl[j] = cl[j - 1]; cl[j - 1] = t }
		head = 0
		for (p = 1; p <= np; p++) {
			split(pairs[p], w, " "); a = w[1]; b = w[2]
			label = pairs[p]; sub(/^[^ ]+ [^ ]+ /, "", label)
			row = "| " label " |"; ok = 0
			for (i = 1; i <= nc; i++) {
				x = med(a SUBSEP cl[i]); y = med(b SUBSEP cl[i])
				if (x > 0 && y > 0) { row = row sprintf(" %.0f / %.0f = **%.2f** |", x, y, x / y); ok = 1 }
				else row = row " |"
			}
			if (!ok) continue
			if (!head) {
				printf "\nRatios (median req/s over median req/s):\n\n| comparison |"
				for (i = 1; i <= nc; i++) printf " c=%s |", cl[i]
				printf "\n|---|"; for (i = 1; i <= nc; i++) printf "--:|"; printf "\n"
				head = 1
			}
			print row
		}
	}' "$@"
