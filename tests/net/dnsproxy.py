#!/usr/bin/env python3
"""Faulty resolver paths in front of Unbound, for libtlspol's test network.

Usage: dnsproxy.py --mode strip|notcp --addr A [--port P]
                   --upstream U [--upstream-port P] --pidfile FILE

Each query is forwarded unchanged to the upstream resolver (Unbound); the
answer is damaged on the way back, as a broken network path would:

  strip   UDP and TCP (each forwarded over the transport it came on).
          Removes every RRSIG, NSEC, NSEC3, DNSKEY and DS record from all
          sections and clears AD: a DNSSEC-unaware middlebox.
  notcp   UDP only; there is no TCP listener, so TCP is refused. An answer
          longer than 512 octets is truncated (TC set; answer, authority
          and additional sections emptied; question and OPT kept),
          whatever EDNS buffer size the query advertised.

An answer the upstream does not give in time (or that cannot be parsed)
becomes SERVFAIL. Bounded: WORKERS threads handle UDP queries from a
queue of at most QUEUE (more are dropped, as an overloaded server drops
them); at most MAX_TCP TCP connections at a time (more are closed at
once), each closed after IDLE seconds without a query. Needs dnspython
(Debian: python3-dnspython). The pid file is written once the sockets
listen and removed on SIGTERM/SIGINT, which end the process.
"""

import argparse
import os
import queue
import selectors
import signal
import socket
import struct
import sys
import threading

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

WORKERS = 32
QUEUE = 4096
MAX_TCP = 64
IDLE = 10.0                 # seconds a TCP client may stay silent
UPSTREAM_TIMEOUT = 5.0      # Unbound answers SERVFAIL well before this
CLASSIC_UDP = 512           # RFC 1035 limit, applied by "notcp"

STRIPPED = {dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3,
            dns.rdatatype.DNSKEY, dns.rdatatype.DS}


def servfail(query):
    """SERVFAIL for the wire-format QUERY, or None if it does not parse."""
    try:
        msg = dns.message.make_response(dns.message.from_wire(query))
    except (dns.exception.DNSException, ValueError):
        return None
    msg.set_rcode(dns.rcode.SERVFAIL)
    return msg.to_wire()


def forward_udp(upstream, query):
    """Send QUERY to UPSTREAM over UDP; return its answer or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(UPSTREAM_TIMEOUT)
        try:
            s.connect(upstream)
            s.send(query)
            while True:
                resp = s.recv(65535)
                if len(resp) >= 12 and resp[:2] == query[:2]:
                    return resp
        except OSError:
            return None


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_framed(sock):
    """One length-prefixed DNS message from a TCP socket, or None."""
    head = recv_exact(sock, 2)
    if head is None:
        return None
    return recv_exact(sock, struct.unpack("!H", head)[0])


def forward_tcp(upstream, query):
    """Send QUERY to UPSTREAM over TCP; return its answer or None."""
    try:
        with socket.create_connection(upstream,
                                      timeout=UPSTREAM_TIMEOUT) as s:
            s.sendall(struct.pack("!H", len(query)) + query)
            return recv_framed(s)
    except OSError:
        return None


def udp_limit(query):
    """The UDP payload size QUERY advertises (512 without EDNS)."""
    try:
        q = dns.message.from_wire(query)
    except (dns.exception.DNSException, ValueError):
        return CLASSIC_UDP
    return max(CLASSIC_UDP, q.payload) if q.edns >= 0 else CLASSIC_UDP


def truncate(msg):
    msg.flags |= dns.flags.TC
    del msg.answer[:], msg.authority[:], msg.additional[:]
    return msg.to_wire()


def strip(resp, limit):
    """RESP without DNSSEC records and AD, at most LIMIT octets."""
    msg = dns.message.from_wire(resp)
    for section in (msg.answer, msg.authority, msg.additional):
        section[:] = [rrset for rrset in section
                      if rrset.rdtype not in STRIPPED]
    msg.flags &= ~dns.flags.AD
    try:
        return msg.to_wire(max_size=limit)
    except dns.exception.TooBig:
        return truncate(msg)


def notcp(resp):
    """RESP truncated if longer than 512 octets."""
    if len(resp) <= CLASSIC_UDP:
        return resp
    return truncate(dns.message.from_wire(resp))


def answer(mode, upstream, query, transport):
    """The damaged answer to QUERY, or None to send nothing."""
    if transport == "udp":
        resp = forward_udp(upstream, query)
    else:
        resp = forward_tcp(upstream, query)
    if resp is None:
        return servfail(query)
    try:
        if mode == "notcp":
            return notcp(resp)
        return strip(resp, udp_limit(query) if transport == "udp" else 65535)
    except (dns.exception.DNSException, ValueError):
        return servfail(query)


def udp_worker(mode, upstream, sock, jobs):
    while True:
        query, peer = jobs.get()
        try:
            out = answer(mode, upstream, query, "udp")
            if out is not None:
                sock.sendto(out, peer)
        except Exception as e:          # keep the worker alive
            print("dnsproxy: udp %s: %r" % (peer, e), flush=True)


def tcp_client(mode, upstream, conn, slots):
    try:
        conn.settimeout(IDLE)
        while True:
            query = recv_framed(conn)
            if query is None:
                return
            out = answer(mode, upstream, query, "tcp")
            if out is None:
                return
            conn.sendall(struct.pack("!H", len(out)) + out)
    except OSError:
        return
    except Exception as e:
        print("dnsproxy: tcp: %r" % (e,), flush=True)
    finally:
        conn.close()
        slots.release()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", required=True, choices=["strip", "notcp"])
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--upstream-port", type=int, default=53)
    ap.add_argument("--pidfile", required=True)
    args = ap.parse_args()
    upstream = (args.upstream, args.upstream_port)

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    sel = selectors.DefaultSelector()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    udp.bind((args.addr, args.port))
    sel.register(udp, selectors.EVENT_READ)
    tcp = None
    if args.mode == "strip":
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((args.addr, args.port))
        tcp.listen(64)
        sel.register(tcp, selectors.EVENT_READ)

    jobs = queue.Queue(maxsize=QUEUE)
    for _ in range(WORKERS):
        threading.Thread(target=udp_worker, daemon=True,
                         args=(args.mode, upstream, udp, jobs)).start()
    slots = threading.BoundedSemaphore(MAX_TCP)

    with open(args.pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.replace(args.pidfile + ".tmp", args.pidfile)
    print("dnsproxy: %s on %s:%d (%s) -> %s:%d" % (
        args.mode, args.addr, args.port, "udp+tcp" if tcp else "udp only",
        args.upstream, args.upstream_port), flush=True)
    try:
        while True:
            for key, _ in sel.select():
                if key.fileobj is udp:
                    try:
                        query, peer = udp.recvfrom(65535)
                    except OSError:
                        continue
                    try:
                        jobs.put_nowait((query, peer))
                    except queue.Full:
                        pass            # overloaded: drop, client retries
                else:
                    try:
                        conn, _ = tcp.accept()
                    except OSError:
                        continue
                    if not slots.acquire(blocking=False):
                        conn.close()
                        continue
                    threading.Thread(
                        target=tcp_client, daemon=True,
                        args=(args.mode, upstream, conn, slots)).start()
    finally:
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
