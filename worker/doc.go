// Package worker turns a Go program into a gofpm worker.
//
// A gofpm master pre-forks workers that all accept on one shared listening
// socket. A Go worker is an ordinary program whose main calls Serve:
//
//	func main() {
//		mux := http.NewServeMux()
//		mux.HandleFunc("/", hello)
//		if err := worker.Serve(mux); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// # What the master hands over
//
// The listening socket is file descriptor 0 (proto.ListenFD), the FastCGI
// convention (FCGI_LISTENSOCK_FILENO), so the same fd works for php-cgi,
// libfcgi programs and net/http/fcgi. fd 0 was chosen over ExtraFiles at
// fd 3 so that every FastCGI program runs unchanged under gofpm, and a Go
// worker is no exception. The master also sets these environment variables
// (even when the pool has clear_env = true):
//
//	GOFPM_POOL                the pool's name (proto.EnvPool)
//	GOFPM_MAX_REQUESTS        requests this worker serves before it exits 0
//	                          (pm_max_requests plus this worker's jitter; 0 = no limit)
//	GOFPM_WORKER_CONCURRENCY  requests served at once (worker_concurrency, default 1)
//
// These names and the rest of the contract (the scoreboard slot on fd 3,
// the access log, the master's status pages) are defined in package
// github.com/gofpm/gofpm/worker/proto, which Serve implements for the
// worker's side. The CGI bridge, a ready-made worker, is package
// github.com/gofpm/gofpm/worker/cgi.
//
// # Behaviour
//
// One request at a time by default: the worker does not accept a new
// connection until the previous one is closed, exactly like a php-fpm child,
// so a pool's size is its concurrency. Serve also:
//
//   - stops gracefully on SIGQUIT: it stops accepting, lets the requests in
//     flight finish, and returns nil (so main returns and the process exits 0);
//   - after GOFPM_MAX_REQUESTS requests it stops the same way, which the master
//     logs as a planned exit with code 0 and replaces;
//   - leaves SIGTERM and SIGINT at their defaults (immediate exit), which is
//     what the master's fast stop expects.
//   - cancels a request's context (r.Context()) when the web server closes
//     the connection or sends FCGI_ABORT_REQUEST, which net/http/fcgi alone
//     never does;
//   - answers 431 and closes the connection when a request's params exceed
//     MaxParamsBytes (1 MiB), which net/http/fcgi alone would buffer without
//     limit (see docs/security.md);
//   - answers FCGI_GET_VALUES with its real concurrency (FCGI_MAX_CONNS and
//     FCGI_MAX_REQS = GOFPM_WORKER_CONCURRENCY, FCGI_MPXS_CONNS = 0);
//   - keeps the worker busy, and takes no other connection, while a handler
//     whose web server went away is still running (it should return once
//     its context is cancelled), as a php-fpm child stays busy with a script;
//   - never lets what a handler writes after its request ended (from a
//     goroutine it left behind) reach another request;
//   - answers FCGI_ABORT_REQUEST with FCGI_END_REQUEST at once, also after
//     the request's body has ended (net/http/fcgi then ignores it);
//   - sends an answer's header with its first body bytes, in one write:
//     net/http/fcgi writes the header on its own at the handler's first
//     Write. As with net/http's own server, the header reaches the web
//     server when the handler flushes (a header written by a Write of no
//     bytes too), fills the 64 KiB buffer or returns. Only an answer's
//     first record is taken for its header, and a request aborted and
//     answered before its handler returned holds back nothing of the next
//     request on the connection.
//
// All of this is one connection filter per web server connection, built on
// package fcgi's record codec, and one long-lived connection per slot that
// carries each web server connection's records to net/http/fcgi in turn:
// net/http/fcgi's cost per connection is paid once per worker, not once
// per request (docs/performance.md, "The long-lived connection").
//
// # GOMAXPROCS
//
// A worker process is one slot of a pool: with worker_concurrency = 1 it
// never runs two requests at once, and the pool's size, not the Go
// scheduler, spreads load over the cores. Serve therefore sets GOMAXPROCS to
// the worker concurrency (capped at the number of CPUs) unless the GOMAXPROCS
// environment variable is set. Measured on a 2-core machine behind nginx,
// GOMAXPROCS=1 workers serve more requests per second than workers with the
// default; see docs/performance.md for the figures.
//
// # Standalone
//
// When fd 0 is not a listening socket (the program was started from a
// shell), Serve listens on the address given by the -listen flag
// (-listen=ADDR or -listen ADDR anywhere in os.Args) or by the GOFPM_LISTEN
// environment variable: "unix:/path", "/path", or "host:port". So the same
// binary runs with or without gofpm, for example behind nginx or spawn-fcgi.
package worker
