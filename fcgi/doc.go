// Package fcgi implements the FastCGI 1.0 wire protocol and a client for the
// responder role, the role web servers use to run PHP and other
// applications. Like net/http/fcgi, it supports the responder role only;
// the authorizer and filter roles are named so that a server can refuse
// them.
//
// The package has four parts:
//
//   - The record codec, exported so that other programs can speak FastCGI
//     to untrusted peers: ReadRecord, WriteRecord, AppendRecords (which
//     splits content at 65535 bytes and pads records to 8 bytes),
//     StreamWriter, the BEGIN_REQUEST and END_REQUEST bodies, and the
//     name-value pair encoding (ReadPairs, AppendPair, AppendPairs). Every
//     length that comes from the peer is checked, and allocation is bounded
//     by the input size. ParseHeader and ReadRecordWire serve a filter that
//     looks at the records between a web server and an application and
//     passes them on unchanged.
//
//   - Client, which sends one request per connection at a time
//     (FastCGI multiplexing is not used; php-fpm and libfcgi do not support
//     it), streams the request body, and returns the response once its CGI
//     header block has arrived, with a Body that streams the rest as the
//     application writes it. With MaxIdleConns set it sends FCGI_KEEP_CONN
//     and reuses connections. GetValues sends FCGI_GET_VALUES for health
//     checks.
//
//   - Responder, a minimal server for answers computed from the params
//     alone (one request at a time per connection), for status pages and
//     tests; applications use net/http/fcgi.
//
//   - AppendEnv, which encodes the CGI variables of an *http.Request as
//     nginx's stock fastcgi_params does, for an HTTP front end, without a
//     map (Request.Pairs); EnvFromRequest gives them as a map.
//
// A response whose connection ends before END_REQUEST is never reported as
// complete: Do or Body.Read return an error wrapping ErrIncomplete, so that
// an HTTP front end can answer 502 or cut its own response. The package does
// no logging: what the application writes to FCGI_STDERR is returned by
// Response.Stderr for the caller to log.
//
// The specification is at
// https://fastcgi-archives.github.io/FastCGI_Specification.html.
package fcgi
