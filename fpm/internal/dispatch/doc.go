// Package dispatch is the master's side of dispatch = "master": it
// accepts FastCGI connections on a pool's socket, reads each request's
// BEGIN_REQUEST and PARAMS, gives the request to an idle worker (the most
// recently idle first) over that worker's private socket, and relays
// STDIN, STDOUT, STDERR and END_REQUEST between the two.
//
// Because every request passes through it, the Dispatcher knows exactly
// what each worker does, whatever language the worker is written in: the
// request it serves (method, URI, query, script, user, content length),
// since when, the status code of the answer and how long it took. It owns
// the queue of requests that wait for a worker, and answers itself when a
// request cannot be served: 503 with Retry-After past MaxQueue or
// QueueTimeout, 403 for a script outside the allowed extensions, 504 when
// the worker was terminated for its timeout, 502 when it died.
//
// One request at a time runs on each client connection (FCGI_MPXS_CONNS is
// 0); a client connection kept open with FCGI_KEEP_CONN holds no worker
// between its requests. The connection to a worker is kept open with
// FCGI_KEEP_CONN while the worker honours it.
package dispatch
