// Package e2e tests gofpm end to end: the real gofpm binary, real Go,
// php-cgi, C, Perl and Python workers, real nginx, on Unix sockets in temp
// dirs and on loopback. Its tests are skipped with -short.
package e2e
