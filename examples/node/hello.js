#!/usr/bin/env node
// hello.js: a FastCGI responder on Node.js alone (no npm package: the
// responder side of FastCGI is a hundred lines, less than any package's
// adapter to it). It accepts on fd 0, the FastCGI convention, through
// net.Server.listen({fd: 0}), so gofpm pools it, and answers
// {"lang": "node", "pid": N, "query": "..."} for the polyglot pool.
// One process serves its connections concurrently, as Node does.
// ?sleep=MS (at most 10000) waits that long before answering (a timer: the
// process serves its other connections meanwhile), to show a slow request.
//
// SIGQUIT (gofpm's worker_graceful_signal): stop accepting, let the
// requests in flight finish, close idle kept connections, exit.
'use strict';
const net = require('net');

const BEGIN = 1, ABORT = 2, END = 3, PARAMS = 4, STDIN = 5, STDOUT = 6;
const KEEP_CONN = 1;

// record frames content as FastCGI records of type t (split at 65535
// bytes, padded to a multiple of 8); an empty content gives one empty record.
function record(t, id, content) {
  const out = [];
  let off = 0;
  do {
    const n = Math.min(65535, content.length - off), pad = (8 - n % 8) % 8;
    const h = Buffer.alloc(8);
    h.writeUInt8(1, 0); h.writeUInt8(t, 1); h.writeUInt16BE(id, 2);
    h.writeUInt16BE(n, 4); h.writeUInt8(pad, 6);
    out.push(h, content.subarray(off, off + n), Buffer.alloc(pad));
    off += n;
  } while (off < content.length);
  return Buffer.concat(out);
}

// pairs decodes FastCGI name-value pairs.
function pairs(b) {
  const env = {};
  let i = 0;
  const len = () => {
    if (i >= b.length) return -1;
    if (b[i] < 0x80) return b[i++];
    if (i + 4 > b.length) return -1;
    const n = b.readUInt32BE(i) & 0x7fffffff;
    i += 4;
    return n;
  };
  while (i < b.length) {
    const nl = len(), vl = len();
    if (nl < 0 || vl < 0 || i + nl + vl > b.length) break;
    env[b.toString('latin1', i, i + nl)] = b.toString('utf8', i + nl, i + nl + vl);
    i += nl + vl;
  }
  return env;
}

// sleepMS is the query's sleep=MS, at most 10 s; 0 without one.
function sleepMS(query) {
  const m = /(?:^|&)sleep=(\d+)/.exec(query || '');
  return m ? Math.min(parseInt(m[1], 10), 10000) : 0;
}

function answer(env) {
  const query = JSON.stringify(env.QUERY_STRING || '');
  return Buffer.from(`Content-Type: application/json\r\n\r\n{"lang": "node", "pid": ${process.pid}, "query": ${query}}\n`);
}

// finish closes conn once its answer is written, whether or not the web
// server has closed its side yet.
function finish(conn) {
  if (conn.finishing) return;
  conn.finishing = true;
  conn.end(() => conn.destroy());
}

let stopping = false;
// GOFPM_MAX_REQUESTS (pm_max_requests): leave cleanly after that many
// requests, as php-cgi does with PHP_FCGI_MAX_REQUESTS.
const maxRequests = parseInt(process.env.GOFPM_MAX_REQUESTS || '0', 10) || 0;
let served = 0;
const conns = new Set(); // open connections; conn.idle: between requests

function serve(conn) {
  let buf = Buffer.alloc(0), id = 0, keep = false, params = [], busy = false;
  conn.idle = true;
  conns.add(conn);
  conn.on('close', () => conns.delete(conn));
  conn.on('error', () => conn.destroy());
  conn.on('data', (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 8) {
      const clen = buf.readUInt16BE(4), total = 8 + clen + buf[6];
      if (buf.length < total) break;
      const t = buf[1], rid = buf.readUInt16BE(2), content = buf.subarray(8, 8 + clen);
      buf = buf.subarray(total);
      if (t === BEGIN) {
        id = rid; keep = (content[2] & KEEP_CONN) !== 0; params = []; busy = true; conn.idle = false;
      } else if (!busy || rid !== id) {
        continue; // management records and other ids: not ours to answer
      } else if (t === PARAMS) {
        params.push(content);
      } else if (t === ABORT || (t === STDIN && clen === 0)) {
        const env = t === ABORT ? null : pairs(Buffer.concat(params)), rid = id;
        busy = false; // the next records are the next request's
        const reply = () => {
          conn.idle = true;
          const out = env ? answer(env) : Buffer.alloc(0);
          conn.write(Buffer.concat([record(STDOUT, rid, out), record(STDOUT, rid, Buffer.alloc(0)), record(END, rid, Buffer.alloc(8))]));
          if (maxRequests > 0 && ++served >= maxRequests && !stopping) stop();
          if (!keep || stopping) finish(conn);
        };
        const ms = env ? sleepMS(env.QUERY_STRING) : 0;
        if (ms > 0) setTimeout(reply, ms); else reply();
        if (!keep) return;
      }
    }
  });
}

const server = net.createServer(serve);
server.on('error', (err) => {
  console.error(`hello.js: listening on fd 0: ${err.message} (is fd 0 a listening socket?)`);
  process.exit(1);
});
server.listen({ fd: 0 });
// stop stops accepting and lets Node exit once the last connection is gone.
function stop() {
  stopping = true;
  server.close();
  for (const c of conns) if (c.idle) finish(c);
}
process.on('SIGQUIT', stop);
