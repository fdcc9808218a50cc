#!/usr/bin/env python3
"""A deliberately stalling HTTPS server for libtlspol's test network.

Usage: slowhttps.py --addr A --port P --cert PEM --key KEY --body FILE
                    --pidfile FILE [--stall SECONDS]

For every connection (each in its own thread, so one stalled client never
blocks another): complete the TLS handshake, read the request head, send

    HTTP/1.1 200 OK
    Content-Type: text/plain
    Content-Length: 500

and the first line of the policy body in FILE, then send nothing more and
keep the connection open for SECONDS (default 3600) or until the client
goes away. A client must therefore give up by its own timeout.

nginx cannot do this: limit_rate also delays the response head.
The pid file is written once the socket listens (netup.sh waits for it)
and removed on SIGTERM/SIGINT, which end the process.
"""

import argparse
import os
import select
import signal
import socket
import ssl
import sys
import threading
import time

MAX_HEAD = 16384
HANDSHAKE_TIMEOUT = 30


def serve(conn, ctx, first_line, stall):
    """Handle one client connection; never raises."""
    tls = None
    try:
        conn.settimeout(HANDSHAKE_TIMEOUT)
        tls = ctx.wrap_socket(conn, server_side=True)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = tls.recv(4096)
            if not chunk or len(head) > MAX_HEAD:
                return
            head += chunk
        tls.sendall(b"HTTP/1.1 200 OK\r\n"
                    b"Content-Type: text/plain\r\n"
                    b"Content-Length: 500\r\n"
                    b"Connection: close\r\n"
                    b"\r\n" + first_line)
        # Stall: wait without sending, until the deadline or the client
        # closes (then recv returns b"" or raises).
        deadline = time.monotonic() + stall
        tls.setblocking(False)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            readable, _, _ = select.select([tls], [], [], min(left, 60))
            if readable:
                try:
                    if not tls.recv(4096):
                        return
                except ssl.SSLWantReadError:
                    continue
    except (OSError, ssl.SSLError, ValueError):
        return
    finally:
        (tls or conn).close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--stall", type=float, default=3600.0)
    args = ap.parse_args()

    with open(args.body, "rb") as f:
        first_line = f.readline()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.addr, args.port))
    lsock.listen(64)
    with open(args.pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.replace(args.pidfile + ".tmp", args.pidfile)
    print("slowhttps: listening on %s:%d, stall %gs"
          % (args.addr, args.port, args.stall), flush=True)
    try:
        while True:
            conn, peer = lsock.accept()
            print("slowhttps: connection from %s:%d" % peer, flush=True)
            threading.Thread(target=serve, daemon=True,
                             args=(conn, ctx, first_line, args.stall)).start()
    finally:
        lsock.close()
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
