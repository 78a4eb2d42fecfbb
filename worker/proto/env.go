package proto

// This file is the whole hand-over between a master and its workers: every
// file descriptor number, environment variable, signal and header name of
// the contract. Nothing else in gofpm spells a GOFPM_* name of the
// contract.

import "golang.org/x/sys/unix"

// File descriptors a worker finds open.
const (
	// ListenFD is the pool's listening socket in every worker: 0,
	// FastCGI's FCGI_LISTENSOCK_FILENO, so that php-cgi, libfcgi programs
	// and net/http/fcgi run unchanged.
	ListenFD = 0
	// ScoreboardFD is the worker's scoreboard slot (os/exec ExtraFiles[0]),
	// announced by EnvScoreboardFD.
	ScoreboardFD = 3
	// PagesFD is one end of a socket pair whose other end the master
	// serves with FastCGI: the pool's status and ping pages, announced by
	// EnvPagesFD. Set only when the pool has pm_status_path or ping_path.
	PagesFD = 4
	// The access log's fd is the master's choice (the next free one),
	// named by EnvAccessLogFD.
)

// Environment variables the master sets for every worker (even when the
// pool has clear_env = true).
const (
	// EnvPool is the pool's name.
	EnvPool = "GOFPM_POOL"
	// EnvMaxRequests is the number of requests this worker serves before
	// it stops gracefully and exits 0 (pm_max_requests plus this worker's
	// jitter; 0 = no limit).
	EnvMaxRequests = "GOFPM_MAX_REQUESTS"
	// EnvConcurrency is how many requests a worker serves at once
	// (worker_concurrency, default 1).
	EnvConcurrency = "GOFPM_WORKER_CONCURRENCY"
	// EnvAllowedClients is the pool's listen_allowed_clients,
	// comma-separated, for a TCP pool. Unset or empty: every client is
	// allowed.
	EnvAllowedClients = "GOFPM_ALLOWED_CLIENTS"
)

// The scoreboard slot (scoreboard.go).
const (
	// EnvScoreboardFD tells a worker its scoreboard slot is open on that
	// fd (ScoreboardFD). A worker without it runs without a slot. The
	// worker unsets it once it has attached, so that processes it starts
	// do not take an unrelated fd 3 for a slot.
	EnvScoreboardFD = "GOFPM_SCOREBOARD_FD"
	// EnvRequestCPU set to "1" turns on the per-request CPU accounting of
	// a Go worker: one getrusage system call at the end of each request,
	// about 1.6 µs on the 2-core VM it was measured on, ten times the cost
	// of the rest of the slot's bookkeeping; so it is off otherwise.
	EnvRequestCPU = "GOFPM_REQUEST_CPU"
)

// The master's status and ping pages, reached through PagesFD.
const (
	EnvPagesFD    = "GOFPM_PAGES_FD"    // set (to PagesFD) when the fd is open
	EnvStatusPath = "GOFPM_STATUS_PATH" // pm_status_path; empty = none
	EnvPingPath   = "GOFPM_PING_PATH"   // ping_path; empty = none
)

// The access log (accesslog.go).
const (
	// EnvAccessLogFD names the fd, open for appending on the pool's
	// access_log, that the worker writes its lines to.
	EnvAccessLogFD = "GOFPM_ACCESS_LOG_FD"
	// EnvAccessFormat holds the pool's access_format; empty means
	// php-fpm's default.
	EnvAccessFormat = "GOFPM_ACCESS_FORMAT"
	// EnvAccessSuppressPath holds the pool's access_suppress_path, one
	// path a line; empty means none.
	EnvAccessSuppressPath = "GOFPM_ACCESS_SUPPRESS_PATH"
)

// The CGI bridge, the built-in worker of pools with worker = "cgi".
const (
	EnvCGIRoot       = "GOFPM_CGI_ROOT"       // document root (required)
	EnvCGIExtensions = "GOFPM_CGI_EXTENSIONS" // ".cgi,.sh"; empty = any executable
	EnvCGITimeout    = "GOFPM_CGI_TIMEOUT"    // "30s" or seconds; empty or 0 = none
)

// EnvListen names the address a worker listens on in standalone mode, when
// fd 0 is not a listening socket: "unix:/path", "/path" or "host:port". The
// master never sets it.
const EnvListen = "GOFPM_LISTEN"

// StackSignal asks a worker for the stack of the goroutines serving its
// requests: the master sends it when a request runs past
// request_slowlog_timeout, and the worker writes the stacks into its
// scoreboard slot for the slowlog. No ptrace is needed, so it works in
// containers and across users.
const StackSignal = unix.SIGUSR2

// HeaderFront is set by gofpm's HTTP front on every request it passes to a
// worker (as the FastCGI param HTTP_X_GOFPM_FRONT); a worker that writes an
// access line answers with HeaderAccessLogged, so the front does not write
// a second one.
const (
	HeaderFront        = "X-Gofpm-Front"
	HeaderAccessLogged = "X-Gofpm-Access-Logged"
)
