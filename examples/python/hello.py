#!/usr/bin/python3
"""hello.py: a FastCGI responder on Python's standard library only (no
FastCGI package is in Debian's Python). It accepts on fd 0, the FastCGI
convention, one connection at a time, like php-cgi, so gofpm pools it.
Answers {"lang": "python", "pid": N, "query": "..."} for the polyglot pool;
?sleep=MS (at most 10000) waits that long first, to show a slow request.
"""
import json
import os
import signal
import socket
import struct
import time
import urllib.parse

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT = 1, 2, 3, 4, 5, 6
stopping = False
busy = False


def on_term(signum, frame):
    """SIGTERM (worker_graceful_signal): leave now if idle, else after the request."""
    global stopping
    stopping = True
    if not busy:
        raise SystemExit(0)


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_record(conn):
    version, rtype, rid, clen, plen, _ = struct.unpack("!BBHHBB", read_exact(conn, 8))
    content = read_exact(conn, clen) if clen else b""
    if plen:
        read_exact(conn, plen)
    return rtype, rid, content


def record(rtype, rid, content):
    out = b""
    while True:
        part, content = content[:65535], content[65535:]
        pad = -len(part) % 8
        out += struct.pack("!BBHHBB", 1, rtype, rid, len(part), pad, 0) + part + b"\0" * pad
        if not content:
            return out


def pairs(data):
    env, i = {}, 0
    while i < len(data):
        lens = []
        for _ in range(2):
            n = data[i]
            if n >> 7:
                n = struct.unpack("!I", data[i:i + 4])[0] & 0x7FFFFFFF
                i += 4
            else:
                i += 1
            lens.append(n)
        name = data[i:i + lens[0]].decode("latin-1")
        i += lens[0]
        env[name] = data[i:i + lens[1]].decode("utf-8", "replace")
        i += lens[1]
    return env


def serve(conn):
    params, rid = b"", 0
    while True:
        rtype, rid, content = read_record(conn)
        if rtype == PARAMS:
            params += content
        elif rtype == STDIN and not content:
            break
    env = pairs(params)
    ms = urllib.parse.parse_qs(env.get("QUERY_STRING", "")).get("sleep", ["0"])[0]
    if ms.isdigit():
        time.sleep(min(int(ms), 10000) / 1000)
    body = json.dumps({"lang": "python", "pid": os.getpid(), "query": env.get("QUERY_STRING", "")}) + "\n"
    out = b"Content-Type: application/json\r\n\r\n" + body.encode()
    conn.sendall(record(STDOUT, rid, out) + record(STDOUT, rid, b"")
                 + struct.pack("!BBHHBB", 1, END, rid, 8, 0, 0) + b"\0" * 8)


def main():
    signal.signal(signal.SIGTERM, on_term)  # graceful: finish the request, then leave
    listener = socket.socket(fileno=0)
    while not stopping:
        try:
            conn, _ = listener.accept()
        except InterruptedError:
            continue
        except OSError:
            if stopping:
                break
            raise
        global busy
        busy = True
        with conn:
            try:
                serve(conn)
            except (EOFError, ConnectionError):
                pass
        busy = False


if __name__ == "__main__":
    main()
