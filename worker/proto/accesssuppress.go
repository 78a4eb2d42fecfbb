package proto

// access_suppress_path, php-fpm's access.suppress_path[] (8.2): the line
// of a request is left out of the access log when every one of php-fpm's
// conditions holds, so that health probes do not fill the log but a probe
// that fails, or anything else sent to the same path, is still logged.

import (
	"net/http"
	"slices"
)

// suppressed reports whether the line of r, answered as rec says, is
// left out: the path (%r) is one of the listed ones, the method is GET or
// HEAD, there is no query string and no request body, and the status is
// 2xx.
func (a *AccessLog) suppressed(rec *accessRecord, r *http.Request) bool {
	if len(a.suppress) == 0 || rec.status < 200 || rec.status > 299 {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead || r.URL.RawQuery != "" || r.ContentLength != 0 {
		return false
	}
	return slices.Contains(a.suppress, r.URL.Path)
}

// Suppress sets the paths whose lines are left out (access_suppress_path).
func (l *AccessLogger) Suppress(paths []string) { l.a.suppress = paths }
