// Package fpm is the gofpm master: it starts, watches and replaces each
// pool's workers, reloads without dropping a request, and answers the
// pools' status and ping pages. It ties together the packages below it,
// each with one job (docs/architecture.md has the map): configuration
// (internal/config), sockets (internal/sockets), kernel state of foreign
// workers (internal/kstate, sockdiag, procfs), the status renderers
// (internal/status), the HTTP front (internal/front) and the php-fpm
// importer (internal/phpimport). The master–worker contract it shares with
// the workers is worker/proto.
package fpm
