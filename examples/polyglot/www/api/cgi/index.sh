#!/bin/sh
# A plain CGI script, run by gofpm's CGI bridge (worker = "cgi").
q=$(printf '%s' "$QUERY_STRING" | sed 's/\\/\\\\/g; s/"/\\"/g')
printf 'Content-Type: application/json\r\n\r\n{"lang": "cgi", "pid": %d, "query": "%s"}\n' "$$" "$q"
