// Package proto is the contract between a gofpm master and its workers: what
// the master hands a worker when it starts one, and what a worker tells the
// master back. The master (package fpm) and the Go worker library (package
// worker) both import it; a worker library in another language implements
// the same contract to get what a Go worker gets (status page fields, the
// slowlog's stack, the access log). A worker that implements none of it
// still works: it only has to serve FastCGI on fd 0.
//
// # Hand-over
//
// Every file descriptor, environment variable, signal and header name of the
// contract is in env.go. In short: the pool's listening socket is fd 0
// (ListenFD); the scoreboard slot is fd 3 (ScoreboardFD, announced by
// EnvScoreboardFD=3); with a status or ping page, a socket to the master's
// FastCGI pages is fd 4 (PagesFD, EnvPagesFD, EnvStatusPath, EnvPingPath);
// with an access log, the log file is on the fd named by EnvAccessLogFD,
// with the format in EnvAccessFormat. EnvPool, EnvMaxRequests,
// EnvConcurrency and EnvAllowedClients carry the pool's settings. A worker
// unsets the variables that name fds once it has taken them, and keeps
// those fds out of the processes it starts (close-on-exec).
//
// # Scoreboard slot
//
// The slot is SlotSize (16384) bytes of shared memory, a memfd on Linux
// (NewSlotFile, the master's side; AttachSlot and SlotWriter, the worker's;
// Slot, the master's reader). It is made of 8-byte words in native byte
// order, at these offsets:
//
//	0     sequence: odd while the worker writes (the seqlock)
//	8     magic: 0x42536667 | version<<32, written by the master; version 3
//	16    attached: version | pid<<32, written by the worker once it has
//	      checked the magic word; 0 = no worker attached
//	24    stage (Stage: php-fpm's values)     32   exit reason (ExitReason)
//	40    requests in flight                  48   accepted, Unix ns
//	56    worker-private                      64   handler start, Unix ns
//	72    requests ended                      80   CONTENT_LENGTH
//	88    last request's duration, ns         96   last request's CPU, ns; -1 = not measured
//	104   worker-private                      112  string lengths, 16 bits each:
//	                                               method | uri<<16 | query<<32 | script<<48
//	128   method (16 bytes), 144 URI path, 1168 query, 2192 SCRIPT_FILENAME (1024 bytes each)
//	3216  histogram: 12 counters (DurationBuckets, then +Inf), then the sum in ns
//	3320  stack sequence, 3328 stack length, 3336 stack text (to the end)
//
// The worker writes the words from 0 to 3215 under the seqlock: it makes
// the sequence odd (compare-and-swap), writes the fields, makes it even.
// The master copies the fields between two reads of the sequence and
// retries unless both are the same even value. The histogram's counters
// only grow and are updated with atomic adds outside the seqlock. On
// StackSignal the worker writes the stack text, then its length, then
// increments the stack sequence. The master treats everything it reads as
// untrusted: lengths are clamped to their fields.
//
// # Access log
//
// A worker given EnvAccessLogFD writes one line per request, formatted with
// the pool's access_format (php-fpm's access.format tokens; accesslog.go
// says how each maps onto a request), with a single write of at most 1025
// bytes on the O_APPEND file, so the lines of a pool's workers never
// interleave. A request that came through gofpm's HTTP front carries
// HeaderFront; a worker that logs it answers with HeaderAccessLogged, so the
// front does not log it again. AccessLogger is the same formatter for the
// master's front, for pools whose workers write no line.
package proto
