#!/bin/sh
# hello.sh: a plain CGI script (RFC 3875), run by gofpm's CGI bridge
# (worker = "cgi"), by fcgiwrap or by any CGI web server: one process per
# request. Answers {"lang": "cgi", "pid": N, "query": "..."}, the JSON of
# examples/polyglot; N is this request's own process.
q=$(printf '%s' "$QUERY_STRING" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')
printf 'Content-Type: application/json\r\n\r\n{"lang": "cgi", "pid": %d, "query": "%s"}\n' "$$" "$q"
