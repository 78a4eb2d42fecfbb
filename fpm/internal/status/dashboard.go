package status

// This file serves the live dashboard of the default pool on the HTTP
// front: one self-contained page (dashboard.html, embedded; no external
// script, style or font) that polls the pool's own status page
// (<pm_status_path>?json&full) every second and draws it.
//
// Where: <pm_status_path>/dashboard, e.g. /status/dashboard. php-fpm
// matches the status path exactly (SCRIPT_NAME == pm_status_path), so
// "/status/dashboard" is no status page and no format of it; the status
// page and its text, json, xml, html and openmetrics outputs are left
// exactly as they are. Only the HTTP front serves the dashboard (not
// pm_status_listen, which speaks FastCGI to health checks), and only when
// the default pool has a status path the front answers ("" and "/" have
// none). When ping_path happens to equal the dashboard's path, the ping
// page wins, as the master's pages come first.
//
// What the status JSON does not say — pm_max_children and the pm's other
// limits — is written into the page when it is served, from the pool's
// config, as a JSON data block (<script type="application/json"
// id="gofpm-config">), so the status page needs no extra key.

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path"
	"strconv"
	"time"
)

//go:embed dashboard.html
var dashboardHTML []byte

// The placeholders of dashboard.html filled at serve time.
var (
	dashboardConfigMark = []byte("{{GOFPM_CONFIG}}")
	dashboardNonceMark  = []byte("{{GOFPM_NONCE}}")
)

// dashboardPollInterval is how often, in milliseconds, the page polls the
// status page.
const dashboardPollInterval = 1000

// dashboardConfig is what the page knows of the pool besides the status
// JSON: the limits to draw the gauges against.
type dashboardConfig struct {
	Pool                    string `json:"pool"`
	PM                      string `json:"pm"`
	StatusPath              string `json:"status_path"` // the page polls StatusPath + "?json&full"
	MaxChildren             int    `json:"max_children"`
	StartServers            int    `json:"start_servers,omitempty"`        // dynamic
	MinSpareServers         int    `json:"min_spare_servers,omitempty"`    // dynamic
	MaxSpareServers         int    `json:"max_spare_servers,omitempty"`    // dynamic
	MaxRequests             int    `json:"max_requests,omitempty"`         // 0: unlimited
	RequestSlowlogTimeoutMS int64  `json:"slowlog_timeout_ms,omitempty"`   // 0: off
	RequestTerminateTimeout int64  `json:"terminate_timeout_ms,omitempty"` // 0: off
	PollIntervalMS          int    `json:"poll_interval_ms"`
}

// DashboardPath is the path the dashboard of a pool with the status path
// statusPath (pm_status_path) is served at, or "" when it has none: without
// a status path, or with the status path "/" (allowed with
// pm_status_listen), which the front does not answer either and under
// which "/dashboard" would shadow the application.
func DashboardPath(statusPath string) string {
	if statusPath == "" || statusPath == "/" {
		return ""
	}
	return path.Join(statusPath, "dashboard")
}

// Dashboard is the dashboard page of one pool, from the pool's config.
type Dashboard struct {
	Pool                    string // the pool's name
	PM                      string // "static", "dynamic" or "ondemand"
	StatusPath              string // pm_status_path
	MaxChildren             int    // pm_max_children
	StartServers            int    // pm_start_servers, shown for dynamic
	MinSpareServers         int    // pm_min_spare_servers, shown for dynamic
	MaxSpareServers         int    // pm_max_spare_servers, shown for dynamic
	MaxRequests             int    // pm_max_requests; 0: unlimited
	RequestSlowlogTimeout   time.Duration
	RequestTerminateTimeout time.Duration
}

// render returns the page, with the config block and the
// Content-Security-Policy nonce filled in.
func (d *Dashboard) render(nonce string) []byte {
	cfg := dashboardConfig{
		Pool:                    cString(d.Pool, maxPool), // as the status page shows it
		PM:                      d.PM,
		StatusPath:              d.StatusPath,
		MaxChildren:             d.MaxChildren,
		MaxRequests:             d.MaxRequests,
		RequestSlowlogTimeoutMS: d.RequestSlowlogTimeout.Milliseconds(),
		RequestTerminateTimeout: d.RequestTerminateTimeout.Milliseconds(),
		PollIntervalMS:          dashboardPollInterval,
	}
	if d.PM == "dynamic" {
		cfg.StartServers, cfg.MinSpareServers, cfg.MaxSpareServers = d.StartServers, d.MinSpareServers, d.MaxSpareServers
	}
	// encoding/json writes '<', '>' and '&' as \u003c, \u003e and \u0026,
	// so no value can close the <script> block it goes into.
	js, err := json.Marshal(cfg)
	if err != nil {
		js = []byte("{}") // not reached: the struct has only strings and numbers
	}
	page := bytes.ReplaceAll(dashboardHTML, dashboardConfigMark, js)
	return bytes.ReplaceAll(page, dashboardNonceMark, []byte(nonce))
}

// ServeHTTP answers GET and HEAD for the dashboard page.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	var n [18]byte
	rand.Read(n[:]) // never fails (crypto/rand panics rather than return an error)
	nonce := base64.StdEncoding.EncodeToString(n[:])
	body := d.render(nonce)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate, max-age=0")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// The page may only run its own inline script and style and fetch from
	// this origin: request URIs shown in it come from clients.
	h.Set("Content-Security-Policy", "default-src 'none'; connect-src 'self'; img-src 'self' data:; "+
		"script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
