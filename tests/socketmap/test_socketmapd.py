#!/usr/bin/env python3
"""test_socketmapd.py TLSPOL_SOCKETMAPD - tlspol-socketmapd end to end:
Postfix's own socketmap client (postmap -q) against the test network,
raw-socket checks of pipelining, malformed netstrings, idle timeout,
max-clients, 5,000 idle connections (memory per connection measured),
overload beyond the default --max-clients, SIGHUP reload, SIGTERM shutdown,
privilege dropping, systemd socket activation and readiness notification,
the Prometheus metrics endpoint and the admin socket.  Prints TAP.  The
network checks need tests/net/with-net.sh; they skip without it unless
TLSPOL_REQUIRE_NET=1.
SPDX-License-Identifier: MIT"""

import json
import os
import pwd
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

EXE = sys.argv[1]
ENV = os.environ
NET = all(k in ENV for k in ("TLSPOL_TEST_RESOLVER", "TLSPOL_TEST_TA",
                             "TLSPOL_TEST_CA"))
NETARGS = ["-r", ENV.get("TLSPOL_TEST_RESOLVER", ""),
           "-a", ENV.get("TLSPOL_TEST_TA", ""),
           "-c", ENV.get("TLSPOL_TEST_CA", ""), "-t", "2"]
POSTMAP = shutil.which("postmap") or "/usr/sbin/postmap"
TMP = tempfile.mkdtemp(prefix="tlspol-smd.")
os.chmod(TMP, 0o755)  # reachable after dropping privileges
results = []


def check(name, cond, detail=""):
    results.append((name, bool(cond), detail))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def activate(args, sock):
    """Popen arguments that start args with sock as fd 3 and LISTEN_PID
    set to the server's pid, as systemd's socket activation does (the pid
    is only known in the child: sh sets it, then execs)."""
    fd = sock.fileno()

    def to_fd3():
        if fd == 3:
            os.set_inheritable(3, True)
        else:
            os.dup2(fd, 3)  # inheritable
    return dict(args=["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", *args],
                close_fds=False, preexec_fn=to_fd3)


def raise_nofile(want):
    """Raise this process's soft descriptor limit to at least want (up to
    the hard limit); True if it is that high now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft == resource.RLIM_INFINITY or soft >= want


def memory(pid):
    """Rss, Pss, Private_Dirty and Anonymous of pid in bytes
    (/proc/PID/smaps_rollup)."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("Rss", "Pss", "Private_Dirty", "Anonymous"):
                out[key] = int(val.split()[0]) * 1024
    return out


def sanitized(pid):
    """Whether pid runs with AddressSanitizer, whose allocator keeps freed
    memory in quarantine."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def nofile_limits(pid):
    """(soft, hard) "Max open files" of pid, as strings."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return tuple(line.split()[3:5])
    return None


def open_conns(path, n):
    """n connections to the UNIX socket path, or an error string."""
    conns = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conns.append(s)
            s.connect(path)
    except OSError as e:
        for c in conns:
            c.close()
        return str(e)
    return conns


def closed_ones(conns, want, timeout):
    """Indexes of the connections in conns that the server closed
    (end of file, or a reset), waiting until want of them are or the
    timeout passes; a connection that sends data counts as open."""
    poller = select.poll()
    byfd = {}
    for i, c in enumerate(conns):
        poller.register(c.fileno(), select.POLLIN)
        byfd[c.fileno()] = i
    closed = set()
    end = time.time() + timeout
    while len(closed) < want and time.time() < end:
        for fd, _ in poller.poll(100):
            i = byfd[fd]
            try:
                data = conns[i].recv(1, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            poller.unregister(fd)
            if not data:
                closed.add(i)
    return closed


class Server:
    """One tlspol-socketmapd process with its log in a file.  listen=False
    leaves out --listen unix:SOCK; fd3 is a socket passed by socket
    activation (the caller sets LISTEN_FDS in env); nofile sets the soft
    descriptor limit the server starts with."""

    def __init__(self, name, args, drop=False, listen=True, env=None,
                 fd3=None, nofile=None):
        self.sock = os.path.join(TMP, name + ".sock")
        self.logpath = os.path.join(TMP, name + ".log")
        self.log = open(self.logpath, "w")
        cmd = [EXE, *(["--listen", "unix:" + self.sock] if listen else []),
               *NETARGS, *args]
        if not drop:
            cmd.append("--no-drop-privileges")
        how = activate(cmd, fd3) if fd3 is not None else dict(args=cmd)
        if nofile is not None:
            def lower():
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
            how["preexec_fn"] = lower
        self.proc = subprocess.Popen(**how, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        self.ready = self.wait_log("ready", 10)

    def text(self):
        with open(self.logpath) as f:
            return f.read()

    def wait_log(self, word, timeout, count=1):
        end = time.time() + timeout
        while time.time() < end:
            if self.text().count(word) >= count:
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def map(self, name="postfix"):
        return f"socketmap:unix:{self.sock}:{name}"

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        s.settimeout(10)
        return s

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def postmap(key, table):
    cfg = os.path.join(TMP, "postfix")
    if not os.path.isdir(cfg):
        os.mkdir(cfg)
        open(os.path.join(cfg, "main.cf"), "w").close()
    p = subprocess.run([POSTMAP, "-c", cfg, "-q", key, table],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.strip(), p.stderr


def ns(payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return str(len(payload)).encode() + b":" + payload + b","


def read_replies(s, n, timeout=10):
    """n netstring replies from s (raw parse), or None on EOF/timeout."""
    buf, out = b"", []
    end = time.time() + timeout
    while len(out) < n:
        while True:
            colon = buf.find(b":")
            if colon < 0:
                break
            ln = int(buf[:colon])
            if len(buf) < colon + 1 + ln + 1:
                break
            out.append(buf[colon + 1:colon + 1 + ln].decode())
            buf = buf[colon + 1 + ln + 1:]
        if len(out) >= n:
            break
        s.settimeout(max(0.01, end - time.time()))
        try:
            d = s.recv(65536)
        except (socket.timeout, OSError):
            return None
        if not d:
            return None
        buf += d
    return out


def ask(s, payload, timeout=10):
    s.sendall(ns(payload))
    r = read_replies(s, 1, timeout)
    return r[0] if r else None


def closed_by_server(s, timeout=5):
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except (socket.timeout, OSError):
        return False


def notify_socket(abstract=False):
    """A datagram socket for NOTIFY_SOCKET: (socket, value to pass)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"tlspol-smd-test-{os.getpid()}"
        s.bind("\0" + name)
        return s, "@" + name
    path = os.path.join(TMP, "sd-notify.dgram")
    s.bind(path)
    return s, path


def notified(s, want, timeout=10):
    """Datagrams received on s until one contains want, or a timeout."""
    got = []
    end = time.time() + timeout
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            d = s.recv(4096).decode()
        except (socket.timeout, OSError):
            break
        got.append(d)
        if want in d:
            break
    return got


def http_get(port, path, extra=b""):
    """(status line, headers, body) of a HTTP/1.0 request, or None when
    the server closed without answering."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    data = b""
    try:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n".encode()
                  + extra + b"\r\n")
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except OSError:
        pass
    s.close()
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    return lines[0], lines[1:], body.decode()


def admin_replies(s, n=1, timeout=10):
    """n admin replies from s, each a list of lines without the final
    ".", or None on EOF/timeout."""
    buf, out = b"", []
    end = time.time() + timeout
    while len(out) < n:
        lines = buf.split(b"\n")
        cur = []
        out = []
        for line in lines[:-1]:
            if line == b".":
                out.append(cur)
                cur = []
            else:
                cur.append(line.decode())
        if len(out) >= n:
            break
        s.settimeout(max(0.01, end - time.time()))
        try:
            d = s.recv(65536)
        except (socket.timeout, OSError):
            return None
        if not d:
            return None
        buf += d
    return out[:n]


def admin(path, line, timeout=10):
    """The reply lines to one admin command on a new connection."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    r = admin_replies(s, 1, timeout)
    s.close()
    return r[0] if r else None


def parse_metrics(text):
    """{'name{labels}': value} of the samples, {name: [HELP, TYPE]}."""
    samples, meta = {}, {}
    for line in text.splitlines():
        if line.startswith("# "):
            kind, name = line.split()[1:3]
            meta.setdefault(name, []).append(kind)
        elif line:
            key, _, val = line.rpartition(" ")
            samples[key] = float(val)
    return samples, meta


def offline_checks():
    p = subprocess.run([EXE, "--help"], capture_output=True, text=True)
    check("--help exits 0 and documents exit status",
          p.returncode == 0 and "Exit status" in p.stdout, p.stdout)
    p = subprocess.run([EXE, "-V"], capture_output=True, text=True)
    check("-V prints the version",
          p.returncode == 0 and p.stdout.startswith("tlspol-socketmapd "))
    p = subprocess.run([EXE], capture_output=True, text=True)
    check("no --listen is a usage error (2)",
          p.returncode == 2 and "--listen" in p.stderr, p.stderr)
    p = subprocess.run([EXE, "--bogus"], capture_output=True, text=True)
    check("unknown option is a usage error (2)", p.returncode == 2)
    p = subprocess.run([EXE, "--listen", "unix:/x", "--idle-timeout",
                        "3x"], capture_output=True, text=True)
    check("bad --idle-timeout is a usage error (2)",
          p.returncode == 2 and "--idle-timeout" in p.stderr, p.stderr)
    p = subprocess.run([EXE, "--listen", "inet:192.0.2.1:10025",
                        "--no-drop-privileges"],
                       capture_output=True, text=True)
    check("non-loopback inet address refused without --allow-remote",
          p.returncode == 2 and "not a loopback" in p.stderr, p.stderr)
    p = subprocess.run([EXE, "--listen", "unix:/nonexistent/dir/s.sock",
                        "--no-drop-privileges"],
                       capture_output=True, text=True)
    check("cannot bind: exit 3 naming the socket",
          p.returncode == 3 and "/nonexistent/dir/s.sock" in p.stderr,
          p.stderr)
    bad = os.path.join(TMP, "bad.yaml")
    with open(bad, "w") as f:
        f.write("log:\n  level: info\n  target syslog\n")
    p = subprocess.run([EXE, "--listen", "unix:" + TMP + "/b.sock",
                        "--config", bad, "--no-drop-privileges"],
                       capture_output=True, text=True)
    check("bad config: exit 3 naming the file",
          p.returncode == 3 and "bad.yaml" in p.stderr, p.stderr)
    p = subprocess.run([EXE, "--listen", "unix:/x", "--metrics",
                        "unix:/y"], capture_output=True, text=True)
    check("--metrics unix:...: usage error (2)",
          p.returncode == 2 and "--metrics" in p.stderr, p.stderr)
    p = subprocess.run([EXE, "--listen", "unix:" + TMP + "/m.sock",
                        "--metrics", "inet:192.0.2.1:9100",
                        "--no-drop-privileges"],
                       capture_output=True, text=True)
    check("--metrics on a non-loopback address refused without "
          "--allow-remote", p.returncode == 2 and "--metrics" in p.stderr
          and "not a loopback" in p.stderr, p.stderr)
    env = dict(ENV, LISTEN_PID="1", LISTEN_FDS="1")
    p = subprocess.run([EXE, "--no-drop-privileges"], env=env,
                       capture_output=True, text=True)
    check("LISTEN_PID of another process: ignored (no --listen: exit 2)",
          p.returncode == 2 and "--listen" in p.stderr, p.stderr)
    env = dict(ENV, LISTEN_FDS="1")
    for name, kind, listen in [
            ("connected stream socket", socket.SOCK_STREAM, False),
            ("datagram socket", socket.SOCK_DGRAM, False),
            ("stream socket that is not listening", socket.SOCK_STREAM,
             None)]:
        if listen is None:
            sock = socket.socket(socket.AF_UNIX, kind)
            other = None
        else:
            sock, other = socket.socketpair(socket.AF_UNIX, kind)
        p = subprocess.run(**activate([EXE, "--no-drop-privileges"], sock),
                           env=env, capture_output=True, text=True)
        check(f"socket activation with a {name}: refused (exit 3)",
              p.returncode == 3
              and "not a listening stream socket" in p.stderr, p.stderr)
        sock.close()
        if other is not None:
            other.close()
    p = subprocess.run([EXE, "--listen", "unix:/x", "--admin",
                        "inet:127.0.0.1:9999"], capture_output=True,
                       text=True)
    check("--admin inet:...: usage error (2), UNIX only",
          p.returncode == 2 and "--admin" in p.stderr
          and "UNIX" in p.stderr, p.stderr)
    p = subprocess.run([EXE, "--listen", "unix:/x", "--admin", "unix:/y",
                        "--admin-mode", "0999"], capture_output=True,
                       text=True)
    check("bad --admin-mode: usage error (2)",
          p.returncode == 2 and "--admin-mode" in p.stderr, p.stderr)
    env = dict(ENV, LISTEN_FDS="65")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    p = subprocess.run(**activate([EXE, "--no-drop-privileges"], sock),
                       env=env, capture_output=True, text=True)
    check("LISTEN_FDS over 64: refused (exit 3)",
          p.returncode == 3 and "LISTEN_FDS" in p.stderr, p.stderr)
    sock.close()


# Every scenario of tests/net/README.md as Postfix's own client sees it:
# the policy string (without "OK "), None for not found, "TEMP" for a
# temporary error.  Derived from the scenario definitions: enforce
# policies list mx1.DOMAIN unless the row says otherwise; MTA-STS testing
# and every unusable policy are not found; DANE with usable TLSA records
# on every host is dane-only, on some (or none usable) dane; a bogus or
# failed security-relevant lookup is a temporary error.
def _secure(pattern):
    return f"secure match={pattern} servername=hostname"


SCENARIO_REPLIES = {
    # MTA-STS
    "enforce.test": _secure("mx1.enforce.test"),
    "testing.test": None, "none.test": None,
    "wildcard.test": _secure(".wildcard.test"),
    "multi-mx.test": _secure("mx1.multi-mx.test:mx2.multi-mx.test"),
    "mx-mismatch.test": "TEMP",
    "no-txt.test": None, "bad-txt.test": None, "two-txt.test": None,
    "split-txt.test": _secure("mx1.split-txt.test"),
    "ext-txt.test": _secure("mx1.ext-txt.test"),
    "cname-txt.test": _secure("mx1.cname-txt.test"),
    "http-404.test": None, "redirect.test": None, "wrong-name.test": None,
    "unknown-ca.test": None, "expired-cert.test": None,
    "text-html.test": None, "oversize.test": None, "no-version.test": None,
    "bad-mode.test": None,
    "big-maxage.test": _secure("mx1.big-maxage.test"),
    "crlf.test": _secure("mx1.crlf.test"),
    "unknown-keys.test": _secure("mx1.unknown-keys.test"),
    "slow.test": None, "no-addr.test": None,
    "insecure.test": _secure("mx1.insecure.test"),
    "does-not-exist.test": None,
    # DANE
    "dane-ee.test": "dane-only", "dane-ta.test": "dane-only",
    "dane-unusable.test": "dane", "dane-bogus.test": "TEMP",
    "dane-expired.test": "TEMP", "dane-unsigned.insecure.test": None,
    "insecure-mx.insecure.test": "dane", "dane-cname.test": "dane-only",
    "dane-mixed.test": "dane", "dane-sts.test": "dane-only",
    "dane-partial-sts.test": "dane-only", "no-mx.test": "dane-only",
    "null-mx.test": None, "dane-malformed.test": "dane-only",
    "dane-sha512.test": "dane-only", "addr-bogus.test": "dane-only",
    "addr-bogus-only.test": "TEMP", "mx-bogus.test": "TEMP",
    "dane-tlsa-servfail.test": "TEMP",
    # SMTP servers (their TLS is Postfix's business, not the map's)
    "badcert-sts.test": _secure("mx1.badcert-sts.test"),
    "badcert-dane.test": "dane-only",
    "no-starttls.test": None, "plain-may.test": None,
}
# With --config tests/data/config/net.yaml and --preload valid.json.
POLICY_REPLIES = {
    "preload-enforce.test": _secure("mx1.preload-enforce.test"),
    "preload-testing.test": None,
    "preload-alias.test": _secure(".preload-alias.test"),
    "local-secure.test": _secure("mx1.local-secure.test"),
}


def scenario_postmap_checks(srv, replies):
    """postmap -q for every scenario domain gives the expected string."""
    wrong = []
    for key, want in replies.items():
        r, out, err = postmap(key, srv.map())
        if want is None:
            ok = r == 1 and out == ""
        elif want == "TEMP":
            ok = r != 0 and out == "" and "temporary error" in err
        else:
            ok = r == 0 and out == want
        if not ok:
            wrong.append((key, want, r, out, err.strip()[-200:]))
    check(f"postmap -q: all {len(replies)} scenario domains as expected "
          f"({sum(v not in (None, 'TEMP') for v in replies.values())} "
          f"policies, {sum(v is None for v in replies.values())} not "
          f"found, {sum(v == 'TEMP' for v in replies.values())} temporary "
          "errors)", not wrong, wrong)


def postmap_checks(srv, port):
    cases = [
        ("enforce.test", 0, "secure match=mx1.enforce.test "
         "servername=hostname"),
        ("ENFORCE.Test", 0, "secure match=mx1.enforce.test "
         "servername=hostname"),
        ("dane-ee.test", 0, "dane-only"),
        ("dane-mixed.test", 0, "dane"),
        ("testing.test", 1, ""),
        (".enforce.test", 1, ""),
        ("[mx1.enforce.test]:25", 1, ""),
        ("[mx1.enforce.test]", 1, ""),
        ("192.0.2.1", 1, ""),
    ]
    for key, rc, want in cases:
        r, out, err = postmap(key, srv.map())
        check(f"postmap -q {key} -> {want or 'not found'}",
              r == rc and out == want, f"rc={r} out={out!r} err={err}")
    r, out, err = postmap("mx-bogus.test", srv.map())
    check("postmap -q mx-bogus.test: temporary error",
          r != 0 and out == "" and "temporary error" in err
          and "mx-bogus.test" in err, f"rc={r} err={err}")
    r, out, err = postmap("enforce.test",
                          f"socketmap:inet:127.0.0.1:{port}:postfix-tlsrpt")
    check("postfix-tlsrpt over inet: TLSRPT attributes",
          r == 0 and out.startswith("secure match=mx1.enforce.test")
          and "policy_type=sts" in out
          and "policy_domain=enforce.test" in out, f"rc={r} out={out}")
    r, out, err = postmap("enforce.test", srv.map("nosuchmap"))
    check("unknown socketmap name: permanent error naming it",
          r != 0 and "permanent error" in err
          and "unknown socketmap name 'nosuchmap'" in err, err)
    # decision lines are written within 0.1 s, not at once
    check("INFO decision line: key, verdict, source, reason, reply",
          srv.wait_log("info: enforce.test: STS_ENFORCE (mta-sts): MTA-STS "
                       "enforce", 2)
          and "-> OK secure match=mx1.enforce.test" in srv.text(),
          srv.text()[-2000:])


def raw_checks(srv):
    s = srv.connect()
    # slow.test answers after the 2 s fetch timeout; the others at once
    keys = ["slow.test", ".x.test", "enforce.test", "[a.test]:25",
            "testing.test"]
    want = ["NOTFOUND ", "NOTFOUND ",
            "OK secure match=mx1.enforce.test servername=hostname",
            "NOTFOUND ", "NOTFOUND "]
    s.sendall(b"".join(ns("postfix " + k) for k in keys))
    got = read_replies(s, 5, 15)
    check("5 pipelined requests answered in order", got == want, got)
    check("same connection still usable",
          ask(s, "postfix dane-ee.test") == "OK dane-only")
    # Connections are edge-triggered: input the server could not take at
    # once (more than its 10 KiB read buffer, or beyond 64 outstanding
    # requests) must still be read later, without a new event.
    pairs = [("postfix dane-ee.test", "OK dane-only"),
             ("postfix .n.test", "NOTFOUND "),
             ("postfix enforce.test",
              "OK secure match=mx1.enforce.test servername=hostname")]
    burst = [pairs[i % 3] for i in range(1000)]
    e = srv.connect()
    e.sendall(b"".join(ns(q) for q, _ in burst))
    got = read_replies(e, len(burst), 15)
    check("1,000 pipelined requests in one 24 KiB write: all answered in "
          "order", got == [w for _, w in burst],
          None if got is None else len(got))
    # the first needs a lookup: 64 wait behind it, the rest stay unread
    fresh = f"p{os.getpid()}-{int(time.time() * 1000)}.wild.test"
    burst = [("postfix " + fresh, "dane-only")] + burst[:499]
    e.sendall(b"".join(ns(q) for q, _ in burst))
    got = read_replies(e, len(burst), 15)
    check("a lookup, then 499 pipelined requests (12 KiB): all answered in "
          "order", got is not None and got[0].startswith("OK dane-only")
          and got[1:] == [w for _, w in burst[1:]],
          None if got is None else got[:2])
    e.close()
    check("INFO line of a verdict-cache answer: the short form",
          srv.wait_log("info: enforce.test: STS_ENFORCE (mta-sts, cached) "
                       "-> OK secure match=mx1.enforce.test", 2)
          and srv.wait_log("info: dane-ee.test: DANE_ONLY (dane, cached) "
                           "-> OK dane-only", 2), srv.text()[-1000:])

    b = srv.connect()
    check("second client answers", ask(b, "postfix .a.test") == "NOTFOUND ")
    bad = [
        ("non-digit length", b"x7:postfix a,"),
        ("leading zero", b"07:postfix,"),
        ("missing comma", b"9:postfix a;"),
        ("length over the limit", b"99999:postfix "),
        ("20000-byte key", ns("postfix " + "a" * 20000)),
        ("binary garbage", bytes(range(256)) * 4),
    ]
    for name, data in bad:
        a = srv.connect()
        try:
            a.sendall(data)
        except OSError:
            pass
        closed = closed_by_server(a)
        a.close()
        ok2 = ask(b, "postfix enforce.test", 5)
        check(f"malformed ({name}): connection closed, other client "
              "answered", closed and ok2 is not None
              and ok2.startswith("OK secure"), (closed, ok2))
    check("malformed input logged at WARN with the peer",
          "warning: unix(pid" in srv.text() and "netstring" in srv.text())
    a = srv.connect()
    r = ask(a, "postfix " + "a" * 10000)
    check("10000-byte key (under --max-request): NOTFOUND", r == "NOTFOUND ",
          r)
    check("unknown name on a raw socket: PERM",
          ask(a, "nope x.test") == "PERM unknown socketmap name 'nope' "
          "(known: postfix, postfix-tlsrpt)")
    # closing with a query outstanding cancels it; the server survives
    c = srv.connect()
    c.sendall(ns("postfix slow.test") * 3)
    c.close()
    time.sleep(0.2)
    check("client gone with queries outstanding: server still answers",
          ask(b, "postfix .b.test") == "NOTFOUND " and srv.proc.poll() is None)
    a.close()
    b.close()
    s.close()


def many_clients_check(srv):
    """5,000 idle connections to a server with --max-clients 6000: all
    held, another client answered promptly, memory per connection."""
    n = 5000
    if not raise_nofile(2 * n + 1000):
        check(f"{n} idle connections # SKIP descriptor limit too low",
              True)
        return
    b = srv.connect()
    ask(b, "postfix dane-ee.test", 5)  # in the verdict cache from now on
    time.sleep(0.2)
    m0 = memory(srv.proc.pid)
    t0 = time.time()
    conns = open_conns(srv.sock, n)
    if isinstance(conns, str):
        check(f"{n} idle connections opened", False, conns)
        return
    t_open = time.time() - t0
    c = srv.connect()
    t1 = time.time()
    r = ask(c, "postfix enforce.test", 5)
    dt = time.time() - t1
    check(f"{n} idle connections (opened in {t_open:.2f} s): another "
          f"client answered in {dt * 1000:.0f} ms",
          r is not None and r.startswith("OK secure") and dt < 1.0, (r, dt))
    t1 = time.time()
    r = ask(b, "postfix dane-ee.test", 5)
    dt2 = time.time() - t1
    check(f"{n} idle connections: a cached answer in {dt2 * 1000:.1f} ms",
          r == "OK dane-only" and dt2 < 0.1, (r, dt2))
    # the idle ones are still served
    r = ask(conns[1234], "postfix dane-ee.test", 5)
    check(f"one of the {n} connections still answers", r == "OK dane-only")
    time.sleep(0.2)
    m1 = memory(srv.proc.pid)
    per = {k: (m1[k] - m0[k]) / (n + 1) for k in m0}
    check(f"{n} idle connections: at most 1 KiB of memory each (Rss "
          f"+{per['Rss']:.0f} B, Anonymous +{per['Anonymous']:.0f} B)",
          per["Rss"] <= 1024 and per["Anonymous"] <= 1024, (m0, m1))
    print(f"# measured: {n} connections opened in {t_open:.3f} s; a new "
          f"client answered in {dt * 1000:.1f} ms, a cached answer in "
          f"{dt2 * 1000:.2f} ms")
    for k in ("Rss", "Pss", "Private_Dirty", "Anonymous"):
        print(f"# measured: {k} idle {m0[k] / 1024:.0f} KiB, with {n} "
              f"idle connections {m1[k] / 1024:.0f} KiB: "
              f"{per[k]:.0f} bytes per connection")
    for x in conns:
        x.close()
    b.close()
    c.close()


def overload_check():
    """The default --max-clients (4096) with 5,000 idle connections from a
    server started with a soft descriptor limit of 1024: the limit is
    raised to the hard one, 4096 are held, the rest are closed at once
    and counted, the held ones are answered and, once idle, closed by the
    idle timeout; memory goes back down."""
    n, maxc = 5000, 4096
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if (hard != resource.RLIM_INFINITY and hard < maxc + 1000) or \
            not raise_nofile(n + 1000):
        check("overload: # SKIP descriptor hard limit too low", True)
        return
    mport = free_port()
    srv = Server("overload", ["--idle-timeout", "4", "--metrics",
                              f"inet:127.0.0.1:{mport}"], nofile=1024)
    check("overload server started", srv.ready, srv.text())
    if not srv.ready:
        srv.stop()
        return
    lim = nofile_limits(srv.proc.pid)
    check("started with a soft descriptor limit of 1024: raised to the "
          "hard limit", lim is not None and lim[0] == lim[1]
          and lim[0] != "1024", lim)
    m0 = memory(srv.proc.pid)
    t0 = time.time()
    conns = open_conns(srv.sock, n)
    if isinstance(conns, str):
        check(f"overload: {n} connections made", False, conns)
        srv.stop()
        return
    closed = closed_ones(conns, n - maxc, 10)
    t_open = time.time() - t0
    check(f"{n} connections, --max-clients {maxc}: {len(closed)} closed at "
          f"once ({t_open:.2f} s)", len(closed) == n - maxc, len(closed))
    held = [c for i, c in enumerate(conns) if i not in closed]
    t1 = time.time()
    r = ask(held[-1], "postfix .x.test", 5)
    dt = time.time() - t1
    check(f"overload: a held connection answered in {dt * 1000:.1f} ms",
          r == "NOTFOUND " and dt < 1.0, (r, dt))
    resp = http_get(mport, "/metrics")
    m = parse_metrics(resp[2])[0] if resp else {}
    check(f"overload: {n - maxc} rejected connections counted",
          m.get('tlspol_connections_rejected_total{reason="max_clients"}')
          == n - maxc and m.get("tlspol_connections") == maxc
          and m.get('tlspol_connections_rejected_total{reason="no_fds"}')
          == 0, m)
    check("overload: one WARN for the burst",
          srv.text().count(f"--max-clients {maxc} reached") == 1,
          srv.text()[-2000:])
    m1 = memory(srv.proc.pid)
    # all idle now: the idle timeout (4 s) closes every held connection
    gone = closed_ones(held, len(held), 12)
    t_idle = time.time() - t0
    check(f"overload: all {len(held)} held connections closed by the idle "
          f"timeout ({t_idle:.1f} s after opening)",
          len(gone) == len(held), len(gone))
    time.sleep(1.5)
    m2 = memory(srv.proc.pid)
    b = srv.connect()
    r = ask(b, "postfix .y.test", 5)
    check("overload: new connections accepted and answered afterwards",
          r == "NOTFOUND ", r)
    what = (f"overload: memory back within 256 KiB of idle (Anonymous "
            f"{m0['Anonymous'] // 1024} -> {m1['Anonymous'] // 1024} -> "
            f"{m2['Anonymous'] // 1024} KiB)")
    if sanitized(srv.proc.pid):
        check(what + " # SKIP ASan keeps freed memory", True)
    else:
        check(what, m2["Anonymous"] - m0["Anonymous"] <= 256 * 1024,
              (m0, m1, m2))
    print(f"# measured: overload: Rss idle {m0['Rss'] // 1024} KiB, with "
          f"{maxc} connections {m1['Rss'] // 1024} KiB, after the idle "
          f"close {m2['Rss'] // 1024} KiB")
    b.close()
    for c in conns:
        c.close()
    check("overload server: SIGTERM exit 0", srv.stop() == 0,
          srv.text()[-2000:])


def idle_checks():
    srv = Server("idle", ["--idle-timeout", "2"])
    check("idle server started", srv.ready, srv.text())
    a = srv.connect()
    t0 = time.time()
    closed = False
    for ch in b"20:postfix enforce.test,":
        try:
            a.sendall(bytes([ch]))
        except OSError:
            closed = True
            break
        a.settimeout(1)
        try:
            if a.recv(100) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        except OSError:
            closed = True
            break
    dt = time.time() - t0
    check(f"one byte per second: closed by the idle timeout after "
          f"{dt:.1f} s", closed and 1.5 <= dt <= 5, dt)
    a.close()
    b = srv.connect()
    check("after the idle close the server answers",
          ask(b, "postfix .x.test") == "NOTFOUND ")
    b.close()
    check("SIGTERM with no work: exit 0", srv.stop() == 0)


def max_clients_check():
    mport = free_port()
    srv = Server("max", ["--max-clients", "10", "--metrics",
                         f"inet:127.0.0.1:{mport}"])
    conns = [srv.connect() for _ in range(10)]
    extra = [srv.connect() for _ in range(3)]
    closed = all(closed_by_server(e, 3) for e in extra)
    check("--max-clients 10: connections beyond it closed", closed)
    check("--max-clients: one WARN per burst",
          srv.text().count("--max-clients 10 reached") == 1, srv.text())
    check("--max-clients: existing clients still answered",
          ask(conns[3], "postfix .x.test") == "NOTFOUND ")
    resp = http_get(mport, "/metrics")
    m = parse_metrics(resp[2])[0] if resp else {}
    check("--max-clients: the 3 closed connections counted",
          m.get('tlspol_connections_rejected_total{reason="max_clients"}')
          == 3 and m.get("tlspol_connections") == 10, m)
    conns[0].close()
    time.sleep(0.2)
    again = srv.connect()
    check("--max-clients: a place freed is taken again",
          ask(again, "postfix .x.test") == "NOTFOUND ")
    for c in conns + extra + [again]:
        c.close()
    srv.stop()


def quiet_check():
    srv = Server("quiet", ["--quiet"])
    c = srv.connect()
    r1 = ask(c, "postfix dane-ee.test")
    r2 = ask(c, "postfix dane-ee.test")
    c.close()
    srv.stop()
    check("--quiet: answers, and no line per decision",
          r1 == r2 == "OK dane-only" and "dane-ee.test" not in srv.text()
          and "ready" in srv.text(), (r1, r2, srv.text()))


def log_config_checks():
    """tlspol.yaml log: level applies unless -v is given, and again on
    SIGHUP."""
    cfg = os.path.join(TMP, "logcfg.yaml")
    with open(cfg, "w") as f:
        f.write("log:\n  level: info\n")
    srv = Server("logcfg", ["--config", cfg])
    c = srv.connect()
    check("config log level info: decision lines",
          ask(c, "postfix dane-ee.test") == "OK dane-only"
          and srv.wait_log("info: dane-ee.test: DANE_ONLY", 2),
          srv.text()[-1000:])
    with open(cfg, "w") as f:
        f.write("log:\n  level: warn\n")
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)  # "reloaded" is an INFO line: not logged now
    r = ask(c, "postfix enforce.test")
    time.sleep(0.3)  # past the 0.1 s log buffer
    check("SIGHUP to level warn: no INFO line per decision",
          r is not None and r.startswith("OK secure")
          and "enforce.test" not in srv.text(), srv.text()[-1000:])
    with open(cfg, "w") as f:
        f.write("log:\n  level: info\n")
    srv.proc.send_signal(signal.SIGHUP)
    check("SIGHUP back to level info: reloaded, decision lines again",
          srv.wait_log("reloaded", 5)
          and ask(c, "postfix enforce.test").startswith("OK secure")
          and srv.wait_log("info: enforce.test: STS_ENFORCE", 2),
          srv.text()[-1000:])
    c.close()
    srv.stop()
    with open(cfg, "w") as f:
        f.write("log:\n  level: error\n")
    srv = Server("logcfg-v", ["--config", cfg, "-v"])
    c = srv.connect()
    check("-v overrides the config's level error",
          srv.ready and ask(c, "postfix dane-ee.test") == "OK dane-only"
          and srv.wait_log("info: dane-ee.test: DANE_ONLY", 2),
          srv.text()[-1000:])
    c.close()
    srv.stop()


def config_server_checks():
    """server: in --config gives listen addresses, socket mode, limits and
    the admin socket; the command line wins; a bad value stops the start
    (exit 3, naming file, line and key); a reload that changes them says
    they wait for the next start."""
    cfg = os.path.join(TMP, "srvcfg.yaml")
    sock = os.path.join(TMP, "srvcfg.sock")
    apath = os.path.join(TMP, "srvcfg.ctl")
    port = free_port()
    text = ("server:\n"
            f"  listen:\n    - unix:{sock}\n    - inet:127.0.0.1:{port}\n"
            '  socket_mode: "0600"\n'
            "  max_request: 100\n"
            f"  admin: unix:{apath}\n"
            "  colour: blue\n")
    with open(cfg, "w") as f:
        f.write(text)
    srv = Server("srvcfg", ["--config", cfg], listen=False)
    log = srv.text()
    check("server.listen from --config, no --listen: both sockets",
          srv.ready and f"listening on unix:{sock}" in log
          and f"listening on inet:127.0.0.1:{port}" in log, log)
    check("server.socket_mode 0600 applied",
          os.path.exists(sock) and (os.stat(sock).st_mode & 0o777) == 0o600)
    check("server: unknown key warned about, not an error",
          "line 8: server.colour: unknown key, ignored" in log, log)
    r, out, err = postmap("dane-ee.test",
                          f"socketmap:inet:127.0.0.1:{port}:postfix")
    check("server.listen inet: postmap answers", r == 0
          and out == "dane-only", err)
    a = srv.connect()
    a.sendall(ns("postfix " + "a" * 200))
    check("server.max_request 100: a 208-byte request closes the "
          "connection", closed_by_server(a))
    a.close()
    check("server.admin: the admin socket answers",
          admin(apath, "stats") is not None)
    with open(cfg, "w") as f:
        f.write(text.replace('"0600"', '"0666"'))
    srv.proc.send_signal(signal.SIGHUP)
    check("reload with other server: settings: they wait for the next start",
          srv.wait_log("take effect at the next start", 5)
          and (os.stat(sock).st_mode & 0o777) == 0o600, srv.text()[-1000:])
    with open(cfg, "w") as f:
        f.write(text.replace('"0600"', '"999"'))
    srv.proc.send_signal(signal.SIGHUP)
    c = srv.connect()
    check("reload with a server: value the next start would refuse: said "
          "at once, the server goes on",
          srv.wait_log("the next start would stop at the error above", 5)
          and 'server.socket_mode: "999" is not an octal mode' in srv.text()
          and ask(c, "postfix dane-ee.test") == "OK dane-only",
          srv.text()[-1000:])
    c.close()
    srv.stop()
    # the command line wins, setting by setting
    with open(cfg, "w") as f:
        f.write(text)
    srv = Server("srvcfg2", ["--config", cfg, "--max-request", "10240"])
    c = srv.connect()
    check("--listen and --max-request over server:, the rest from it",
          srv.ready and not os.path.exists(sock)
          and ask(c, "postfix " + "a" * 200) == "NOTFOUND "
          and admin(apath, "stats") is not None, srv.text()[-1000:])
    c.close()
    srv.stop()
    bad = [
        ('  socket_mode: "999"\n',
         'line 2: server.socket_mode: "999" is not an octal mode'),
        ("  listen: tcp:1\n",
         "line 2: server.listen tcp:1: expected unix:PATH or inet:HOST:PORT"),
        ("  listen: inet:192.0.2.1:25\n",
         "line 2: server.listen inet:192.0.2.1:25: not a loopback"),
        ("  max_clients: 0\n",
         'line 2: server.max_clients: "0" is not a number from 1 to 1000000'),
        ("  allow_remote: yes\n",
         'line 2: server.allow_remote: "yes" is not true or false'),
        (f"  listen: unix:{sock}\n  socket_owner: nosuchuser-tlspol\n",
         "line 3: server.socket_owner nosuchuser-tlspol: unknown user or "
         "group"),
        ("  user:\n", "line 2: server.user: empty value"),
    ]
    for body, want in bad:
        with open(cfg, "w") as f:
            f.write("server:\n" + body)
        p = subprocess.run([EXE, "--config", cfg, *NETARGS,
                            "--no-drop-privileges"], capture_output=True,
                           text=True, timeout=30)
        check(f"bad server: setting -> exit 3: {want}",
              p.returncode == 3 and want in p.stderr
              and cfg in p.stderr, p.stderr[-500:])
    with open(cfg, "w") as f:
        f.write("server:\n  max_clients: 10\n")
    p = subprocess.run([EXE, "--config", cfg, *NETARGS,
                        "--no-drop-privileges"], capture_output=True,
                       text=True, timeout=30)
    check("no listen anywhere: usage error (2) naming server.listen",
          p.returncode == 2 and "no server.listen in " + cfg in p.stderr,
          p.stderr[-500:])


def connection_timeout_checks():
    """--connection-timeout: a connection in steady use is closed once it
    has been open that long, after what it asked is answered."""
    port = free_port()
    srv = Server("age", ["--connection-timeout", "2",
                         "--metrics", f"inet:127.0.0.1:{port}"])
    c = srv.connect()
    t0 = time.time()
    answered = closed_at = None
    while time.time() - t0 < 8:
        try:
            r = ask(c, "postfix dane-ee.test", 3)
        except OSError:
            r = None
        if r is None:
            closed_at = time.time() - t0
            break
        answered = (answered or 0) + 1
        time.sleep(0.2)
    c.close()
    check(f"a busy connection is closed after --connection-timeout 2 "
          f"({answered} answers, closed after "
          f"{closed_at if closed_at is None else round(closed_at, 1)} s)",
          closed_at is not None and 1.8 <= closed_at <= 4.5
          and answered >= 5, (answered, closed_at))
    d = srv.connect()
    t0 = time.time()
    time.sleep(1.2)
    d.sendall(ns("postfix slow.test"))  # answered after the 2 s timeout
    r = read_replies(d, 1, 10)
    dt = time.time() - t0
    check(f"a lookup outstanding at the limit is answered ({dt:.1f} s "
          "after connecting), then the connection is closed",
          r == ["NOTFOUND "] and dt >= 2.5 and closed_by_server(d), (r, dt))
    d.close()
    resp = http_get(port, "/metrics")
    m = parse_metrics(resp[2])[0] if resp else {}
    check("tlspol_connections_aged_total counts both",
          m.get("tlspol_connections_aged_total") == 2, m)
    e = srv.connect()
    check("the server answers new connections",
          ask(e, "postfix dane-ee.test") == "OK dane-only")
    e.close()
    srv.stop()


def sighup_checks():
    cfg = os.path.join(TMP, "hup.yaml")
    with open(cfg, "w") as f:
        f.write("failure:\n  mode: defer\n")
    srv = Server("hup", ["--config", cfg])
    check("server with --config started", srv.ready, srv.text())
    b = srv.connect()
    r0 = ask(b, "postfix local-secure.test")
    with open(cfg, "w") as f:
        f.write("domains:\n  local-secure.test:\n    policy: secure\n"
                "    match: [mx1.local-secure.test]\n")
    srv.proc.send_signal(signal.SIGHUP)
    check("SIGHUP with a valid config: reloaded",
          srv.wait_log("reloaded", 5), srv.text())
    r1 = ask(b, "postfix local-secure.test")
    check("the reloaded override applies",
          r1 is not None and r1.startswith("OK secure") and r0 != r1,
          (r0, r1))
    with open(cfg, "w") as f:
        f.write("domains: [\n")
    srv.proc.send_signal(signal.SIGHUP)
    check("SIGHUP with an invalid config: kept the old one",
          srv.wait_log("kept the old configuration", 5), srv.text())
    r2 = ask(b, "postfix local-secure.test")
    check("after a bad reload the old config still answers", r2 == r1,
          (r1, r2))
    b.close()
    # SIGTERM with a query in flight: it is answered, then exit 0
    c = srv.connect()
    c.sendall(ns("postfix slow.test"))
    time.sleep(0.2)
    t0 = time.time()
    srv.proc.send_signal(signal.SIGTERM)
    r = read_replies(c, 1, 10)
    rc = srv.stop()
    dt = time.time() - t0
    check(f"SIGTERM: in-flight query answered, exit 0 in {dt:.1f} s",
          r == ["NOTFOUND "] and rc == 0 and dt < 5, (r, rc, dt))
    check("SIGTERM: socket file removed", not os.path.exists(srv.sock))
    c.close()


def activation_checks():
    path = os.path.join(TMP, "act.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(64)
    ns_sock, ns_name = notify_socket(abstract=True)
    port = free_port()
    env = dict(ENV, LISTEN_FDS="1", NOTIFY_SOCKET=ns_name)
    srv = Server("act", ["--listen", f"inet:127.0.0.1:{port}"],
                 listen=False, env=env, fd3=lsock)
    lsock.close()  # the server holds its own copy
    log = srv.text()
    check("socket activation (no --listen): started", srv.ready, log)
    check("socket activation: listens on the passed socket and --listen",
          f"listening on systemd:unix:{path}" in log
          and f"listening on inet:127.0.0.1:{port}" in log, log)
    got = notified(ns_sock, "READY=1")
    check("NOTIFY_SOCKET @abstract: READY=1 with STATUS",
          got and got[0] == "READY=1\nSTATUS=serving\n", got)
    r, out, err = postmap("enforce.test", srv.map())
    check("postmap -q through the activated socket",
          r == 0 and out.startswith("secure match=mx1.enforce.test"),
          f"rc={r} out={out!r} err={err}")
    r, out, err = postmap("dane-ee.test",
                          f"socketmap:inet:127.0.0.1:{port}:postfix")
    check("postmap -q through --listen next to it",
          r == 0 and out == "dane-only", f"rc={r} out={out!r} err={err}")
    rc = srv.stop()
    check("activated server: SIGTERM exit 0", rc == 0, srv.text()[-2000:])
    check("activated server: the socket file is left to systemd",
          os.path.exists(path))
    ns_sock.close()


def notify_checks():
    cfg = os.path.join(TMP, "notify.yaml")
    with open(cfg, "w") as f:
        f.write("failure:\n  mode: defer\n")
    ns_sock, ns_path = notify_socket()
    srv = Server("notify", ["--config", cfg],
                 env=dict(ENV, NOTIFY_SOCKET=ns_path))
    check("server with NOTIFY_SOCKET started", srv.ready, srv.text())
    got = notified(ns_sock, "READY=1")
    check("NOTIFY_SOCKET path: READY=1 once listening",
          got == ["READY=1\nSTATUS=serving\n"], got)
    b = srv.connect()
    check("after READY=1 the socket answers",
          ask(b, "postfix .x.test") == "NOTFOUND ")
    b.close()
    srv.proc.send_signal(signal.SIGHUP)
    got = notified(ns_sock, "READY=1")
    check("SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1",
          len(got) == 2 and got[0].startswith("RELOADING=1\nMONOTONIC_USEC=")
          and got[1].startswith("READY=1\n"), got)
    srv.proc.send_signal(signal.SIGTERM)
    got = notified(ns_sock, "STOPPING=1")
    check("SIGTERM: STOPPING=1", got and got[-1].startswith("STOPPING=1\n"),
          got)
    check("NOTIFY_SOCKET server: exit 0", srv.stop() == 0)
    ns_sock.close()
    srv = Server("notify2", [], env=dict(ENV, NOTIFY_SOCKET=os.path.join(
        TMP, "nobody-listens.sock")))
    check("NOTIFY_SOCKET nobody listens on: a warning, still serving",
          srv.ready and "warning: sd_notify \"READY=1" in srv.text()
          and srv.proc.poll() is None, srv.text())
    check("NOTIFY_SOCKET nobody listens on: exit 0", srv.stop() == 0)


def metrics_checks():
    cfg = os.path.join(TMP, "metrics.yaml")
    with open(cfg, "w") as f:
        f.write("domains:\n  dane-mixed.test:\n    policy: may\n")
    mport = free_port()
    srv = Server("metrics", ["--metrics", f"inet:127.0.0.1:{mport}",
                             "--config", cfg])
    check("server with --metrics started", srv.ready, srv.text())
    a = srv.connect()
    keys = ["enforce.test", "enforce.test", "dane-ee.test", "testing.test",
            "dane-mixed.test", ".x.test", "[a.test]:25"]
    got = [ask(a, "postfix " + k) for k in keys]
    check("metrics: queries answered", None not in got, got)
    ask(a, "nope x.test")
    ask(a, "postfix")
    bad = srv.connect()
    bad.sendall(b"x7:postfix a,")
    closed_by_server(bad)
    bad.close()
    srv.proc.send_signal(signal.SIGHUP)
    srv.wait_log("reloaded", 5)
    resp = http_get(mport, "/metrics")
    check("GET /metrics: 200 text/plain version 0.0.4",
          resp and resp[0] == "HTTP/1.0 200 OK"
          and "Content-Type: text/plain; version=0.0.4; charset=utf-8"
          in resp[1], resp)
    if not resp:
        srv.stop()
        return
    length = [h for h in resp[1] if h.startswith("Content-Length: ")]
    check("GET /metrics: Content-Length is the body's",
          length == [f"Content-Length: {len(resp[2].encode())}"], length)
    m, meta = parse_metrics(resp[2])
    want = {
        'tlspol_queries_total{verdict="STS_ENFORCE"}': 2,
        'tlspol_queries_total{verdict="DANE_ONLY"}': 1,
        'tlspol_queries_total{verdict="STS_TESTING"}': 1,
        'tlspol_queries_total{verdict="LOCAL"}': 1,
        'tlspol_queries_total{verdict="TEMPFAIL"}': 0,
        'tlspol_queries_total{verdict="ERROR"}': 0,
        "tlspol_queries_skipped_total": 2,
        "tlspol_cache_hits_total": 1,
        "tlspol_cache_misses_total": 4,
        "tlspol_lookups_total": 4,
        "tlspol_failopen_total": 0,
        "tlspol_override_weakens_total": 1,
        'tlspol_lookup_seconds_bucket{le="+Inf"}': 5,
        "tlspol_lookup_seconds_count": 5,
        "tlspol_connections": 1,
        'tlspol_connections_rejected_total{reason="max_clients"}': 0,
        'tlspol_connections_rejected_total{reason="no_fds"}': 0,
        "tlspol_malformed_requests_total": 3,
        'tlspol_reloads_total{result="ok"}': 1,
        'tlspol_reloads_total{result="failed"}': 0,
    }
    for key, val in want.items():
        check(f"metrics: {key} {val}", m.get(key) == val, m.get(key))
    names = ["tlspol_queries_total", "tlspol_queries_skipped_total",
             "tlspol_cache_hits_total", "tlspol_cache_misses_total",
             "tlspol_lookups_total",
             "tlspol_failopen_total", "tlspol_override_weakens_total",
             "tlspol_lookup_seconds", "tlspol_connections",
             "tlspol_connections_rejected_total",
             "tlspol_malformed_requests_total", "tlspol_reloads_total"]
    check("metrics: HELP and TYPE for each metric",
          all(meta.get(n) == ["HELP", "TYPE"] for n in names), meta)
    buckets = [m.get(f'tlspol_lookup_seconds_bucket{{le="{le}"}}')
               for le in ["0.001", "0.005", "0.01", "0.05", "0.1", "0.5",
                          "1", "5", "10", "+Inf"]]
    check("metrics: histogram buckets cumulative, sum > 0",
          None not in buckets and buckets == sorted(buckets)
          and m.get("tlspol_lookup_seconds_sum", 0) > 0, (buckets, m))
    resp = http_get(mport, "/other")
    check("GET /other: 404",
          resp is not None and resp[0] == "HTTP/1.0 404 Not Found", resp)
    resp = http_get(mport, "/metrics", b"X-Pad: " + b"a" * 5000 + b"\r\n")
    check("request over 4096 bytes: closed without a reply", resp is None,
          resp)
    s = socket.create_connection(("127.0.0.1", mport), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.0\r\n")
    t0 = time.time()
    closed = closed_by_server(s, 10)
    dt = time.time() - t0
    s.close()
    check(f"incomplete request: closed after {dt:.1f} s (5 s timeout)",
          closed and 4.5 <= dt <= 7, dt)
    resp = http_get(mport, "/metrics")
    check("metrics still served afterwards",
          resp is not None and resp[0] == "HTTP/1.0 200 OK", resp)
    check("metrics: over-long request logged at WARN",
          "warning: metrics: request over 4096 bytes" in srv.text())
    a.close()
    check("metrics server: SIGTERM exit 0", srv.stop() == 0)


def admin_checks():
    cfg = os.path.join(TMP, "admin.yaml")
    with open(cfg, "w") as f:
        f.write("failure:\n  mode: defer\n")
    apath = os.path.join(TMP, "admin.ctl")
    mport = free_port()
    srv = Server("admin", ["--admin", "unix:" + apath, "--config", cfg,
                           "--metrics", f"inet:127.0.0.1:{mport}"])
    check("server with --admin started", srv.ready, srv.text())
    if not srv.ready:
        srv.stop()
        return
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.connect(apath)
    t_idle = time.time()
    check("admin socket: mode 0600 by default",
          (os.stat(apath).st_mode & 0o777) == 0o600,
          oct(os.stat(apath).st_mode))
    check("query socket keeps its own mode (0666)",
          (os.stat(srv.sock).st_mode & 0o777) == 0o666)
    q = srv.connect()
    check("query before the admin checks",
          ask(q, "postfix enforce.test") is not None)

    r = admin(apath, "help")
    check("admin help: lists the commands",
          r is not None and any(x.startswith("  stats") for x in r)
          and any("refresh DOMAIN" in x for x in r)
          and any(x.startswith("  reload") for x in r), r)
    r = admin(apath, "stats")
    resp = http_get(mport, "/metrics")
    got = {}
    for line in r or []:
        key, _, val = line.rpartition(" ")
        got[key] = float(val)
    want = parse_metrics(resp[2])[0] if resp else None
    check("admin stats: the metrics endpoint's numbers as name value",
          r is not None and got == want
          and got.get('tlspol_queries_total{verdict="STS_ENFORCE"}') == 1
          and got.get("tlspol_connections") == 1, (r, want))
    r = admin(apath, "refresh enforce.test")
    check("admin refresh: DOMAIN VERDICT reply",
          r == ["enforce.test STS_ENFORCE OK secure "
                "match=mx1.enforce.test servername=hostname"], r)
    r = admin(apath, "refresh dane-ee.test")
    check("admin refresh of a DANE domain",
          r == ["dane-ee.test DANE_ONLY OK dane-only"], r)
    # slow.test answers after the 2 s fetch timeout: meanwhile the loop
    # serves queries and other admin connections
    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.connect(apath)
    t0 = time.time()
    a.sendall(b"refresh slow.test\nhelp\n")
    time.sleep(0.2)
    t1 = time.time()
    r1 = ask(q, "postfix dane-ee.test", 5)
    r2 = admin(apath, "purge x.test", 5)
    dt = time.time() - t1
    check(f"refresh in flight: query and admin answered in "
          f"{dt * 1000:.0f} ms", r1 == "OK dane-only" and dt < 1.0
          and r2 == ["x.test not cached"],
          (r1, r2, dt))
    r = admin_replies(a, 2, 15)
    dt = time.time() - t0
    check(f"refresh slow.test: answered after {dt:.1f} s, then the next "
          "command", r is not None and len(r[0]) == 1
          and r[0][0].startswith("slow.test ") and "NOTFOUND" in r[0][0]
          and any("refresh DOMAIN" in x for x in r[1]) and dt >= 1.5,
          (r, dt))
    a.close()
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(apath)
    c.sendall(b"refresh slow.test\n")
    time.sleep(0.2)
    c.close()
    r = admin(apath, "help")
    check("admin client gone with a refresh in flight: server still "
          "answers", r is not None and srv.proc.poll() is None, r)
    r = admin(apath, "dump")
    try:
        dump = json.loads("\n".join(r)) if r else None
    except ValueError:
        dump = None
    check("admin dump: preload JSON with the cached policy",
          dump is not None and dump.get("version") == "0.1"
          and dump["policies"].get("enforce.test", {}).get("mode")
          == "enforce", r)
    r = [admin(apath, c) for c in ("purge Enforce.Test.", "dump",
                                    "purge enforce.test", "purge",
                                    "purge a..test", "purge a b")]
    dump = json.loads("\n".join(r[1])) if r[1] else {}
    check("admin purge: drops the cached policy once, then 'not cached'",
          r[0] == ["Enforce.Test. purged"]
          and "enforce.test" not in dump.get("policies", {"enforce.test": 1})
          and r[2] == ["enforce.test not cached"], r[:3])
    check("admin purge: usage and invalid-name errors",
          r[3] == ["error: usage: purge DOMAIN"] and r[4] is not None
          and len(r[4]) == 1 and r[4][0].startswith("error: purge a..test: ")
          and r[5] == ["error: usage: purge DOMAIN"], r[3:])
    r = admin(apath, "refresh enforce.test")
    check("admin refresh after purge: looked up afresh",
          r is not None and r[0].startswith("enforce.test STS_ENFORCE"), r)
    r = admin(apath, "frob now")
    check("admin unknown command: error naming it",
          r == ["error: unknown command 'frob' (try help)"], r)
    r = admin(apath, "refresh")
    check("admin refresh without a domain: usage error",
          r == ["error: usage: refresh DOMAIN"], r)
    r = admin(apath, "stats please")
    check("admin stats with an argument: error",
          r == ["error: stats takes no argument"], r)

    r0 = ask(q, "postfix local-secure.test")
    with open(cfg, "w") as f:
        f.write("domains:\n  local-secure.test:\n    policy: secure\n"
                "    match: [mx1.local-secure.test]\n")
    r = admin(apath, "reload")
    r1 = ask(q, "postfix local-secure.test")
    check("admin reload: ok, and the new override applies",
          r == ["ok"] and r1 is not None and r1.startswith("OK secure")
          and r0 != r1, (r, r0, r1))
    with open(cfg, "w") as f:
        f.write("domains: [\n")
    r = admin(apath, "reload")
    check("admin reload of a bad config: the error, old config kept",
          r is not None and len(r) == 1 and r[0].startswith("error: ")
          and "admin.yaml" in r[0] and "old configuration" in r[0]
          and ask(q, "postfix local-secure.test") == r1, r)
    r = admin(apath, "stats")
    check("admin stats: reloads counted as for SIGHUP",
          r is not None and 'tlspol_reloads_total{result="ok"} 1' in r
          and 'tlspol_reloads_total{result="failed"} 1' in r, r)

    # several commands on one connection, the last without a newline and
    # followed by end of input: all answered in order, then closed
    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.connect(apath)
    a.sendall(b"help\r\n\nPURGE x.test\nnope")
    a.shutdown(socket.SHUT_WR)
    r = admin_replies(a, 3)
    check("admin: pipelined commands answered in order, then closed",
          r is not None and any("refresh DOMAIN" in x for x in r[0])
          and r[1] == ["x.test not cached"]
          and r[2] == ["error: unknown command 'nope' (try help)"]
          and closed_by_server(a), r)
    a.close()

    # the query socket never runs admin commands
    n_reload = srv.text().count("reloaded")
    check("query socket: netstring 'postfix stats' is a lookup -> "
          "NOTFOUND", ask(q, "postfix stats") == "NOTFOUND ")
    check("query socket: 'postfix reload' is a lookup, nothing reloaded",
          ask(q, "postfix reload") == "NOTFOUND "
          and srv.text().count("reloaded") == n_reload)
    b = srv.connect()
    b.sendall(b"stats\n")
    check("query socket: a raw 'stats' line is a malformed netstring -> "
          "closed", closed_by_server(b) and "netstring" in srv.text())
    b.close()

    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.connect(apath)
    try:
        a.sendall(b"refresh " + b"a" * 2000 + b"\n")
    except OSError:
        pass
    check("admin: a line over 1024 bytes closes the connection",
          closed_by_server(a)
          and "line over 1024 bytes" in srv.text(), srv.text()[-500:])
    a.close()
    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.connect(apath)
    a.sendall(b"refresh " + b"a" * 1015 + b"\n")  # 1023 + newline
    r = admin_replies(a, 1)
    check("admin: a line of 1024 bytes is a command", r is not None
          and len(r) == 1 and r[0][0].startswith("error: refresh "), r)
    a.close()

    time.sleep(0.3)  # the server has seen the earlier clients go
    conns = []
    for _ in range(15):  # with the idle one: 16
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(apath)
        conns.append(s)
    s.sendall(b"help\n")
    r = admin_replies(s, 1)
    extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    extra.connect(apath)
    check("admin: 16 connections served, the 17th closed",
          r is not None and closed_by_server(extra, 3), r)
    extra.close()
    for s in conns:
        s.close()

    before = time.time() - t_idle
    closed = closed_by_server(idle, max(1, 14 - before))
    dt = time.time() - t_idle
    check(f"admin: idle connection closed after {dt:.1f} s (10 s)",
          closed and 9.5 <= dt <= max(13, before + 1), (dt, before))
    idle.close()
    q.close()
    rc = srv.stop()
    check("admin server: SIGTERM exit 0, admin socket removed",
          rc == 0 and not os.path.exists(apath), srv.text()[-2000:])


def socket_owner_check():
    """--socket-mode and --socket-owner USER:GROUP set the UNIX socket's
    mode and owner (root only may give it away)."""
    if os.geteuid() != 0:
        check("--socket-owner # SKIP not root", True)
        return
    import grp
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    srv = Server("owned", ["--socket-mode", "0660", "--socket-owner",
                           f"nobody:{group}"])
    st = os.stat(srv.sock) if srv.ready else None
    check(f"--socket-mode 0660 --socket-owner nobody:{group}",
          st is not None and (st.st_mode & 0o777) == 0o660
          and st.st_uid == nobody.pw_uid and st.st_gid == nobody.pw_gid,
          None if st is None else (oct(st.st_mode), st.st_uid, st.st_gid))
    r, out, err = postmap("dane-ee.test", srv.map())
    check("socket given away: root's postmap still answered",
          r == 0 and out == "dane-only", err)
    srv.stop()


def privdrop_check():
    if os.geteuid() != 0:
        check("privilege drop # SKIP not root", True)
        return
    nobody = pwd.getpwnam("nobody").pw_uid
    apath = os.path.join(TMP, "drop.ctl")
    srv = Server("drop", ["--admin", "unix:" + apath], drop=True)
    check("started as root: drops to nobody",
          srv.ready and "running as user nobody" in srv.text(), srv.text())
    with open(f"/proc/{srv.proc.pid}/status") as f:
        st = f.read()
    uids = [line.split()[1:] for line in st.splitlines()
            if line.startswith(("Uid:", "Gid:", "Groups:"))]
    check("real, effective, saved uid are nobody's",
          uids and set(uids[0]) == {str(nobody)}, uids)
    check("unix socket mode 0666 after the drop",
          (os.stat(srv.sock).st_mode & 0o777) == 0o666)
    r, out, err = postmap("dane-ee.test", srv.map())
    check("as nobody: postmap answer", r == 0 and out == "dane-only", err)
    st = os.stat(apath)
    check("admin socket made before the drop: root's, mode 0600",
          st.st_uid == 0 and (st.st_mode & 0o777) == 0o600,
          (st.st_uid, oct(st.st_mode)))
    r = admin(apath, "refresh dane-ee.test")
    check("as nobody: admin refresh answers",
          r == ["dane-ee.test DANE_ONLY OK dane-only"], r)
    check("as nobody: SIGTERM exit 0", srv.stop() == 0)


def main():
    offline_checks()
    if NET:
        port = free_port()
        srv = Server("main", ["--listen", f"inet:127.0.0.1:{port}",
                              "--max-clients", "6000"])
        check("server started (unix + inet)", srv.ready, srv.text())
        if srv.ready:
            postmap_checks(srv, port)
            scenario_postmap_checks(srv, SCENARIO_REPLIES)
            raw_checks(srv)
            many_clients_check(srv)
            check("server still running", srv.proc.poll() is None)
        rc = srv.stop()
        check("SIGTERM: exit 0", rc == 0, srv.text()[-3000:])
        data = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "..", "data")
        pol = Server("policy", ["--config",
                                os.path.join(data, "config", "net.yaml"),
                                "--preload", os.path.join(data, "preload",
                                                          "valid.json")])
        check("server with a preload list and local overrides started",
              pol.ready, pol.text())
        if pol.ready:
            scenario_postmap_checks(pol, POLICY_REPLIES)
            pol.proc.send_signal(signal.SIGHUP)
            check("--preload lists stay after SIGHUP (they used to be "
                  "dropped: PRELOAD_ENFORCE fell to not found)",
                  pol.wait_log("reloaded", 5)
                  and postmap("preload-enforce.test", pol.map())[1]
                  == POLICY_REPLIES["preload-enforce.test"],
                  pol.text()[-1000:])
        pol.stop()
        idle_checks()
        max_clients_check()
        quiet_check()
        log_config_checks()
        config_server_checks()
        socket_owner_check()
        connection_timeout_checks()
        overload_check()
        sighup_checks()
        activation_checks()
        notify_checks()
        metrics_checks()
        admin_checks()
        privdrop_check()
    elif ENV.get("TLSPOL_REQUIRE_NET") == "1":
        check("test network present (TLSPOL_REQUIRE_NET=1)", False)
    print(f"1..{len(results) + (0 if NET else 1)}")
    n = 0
    for n, (name, ok, detail) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {n} - {name}")
        if not ok:
            for line in str(detail).splitlines()[:30]:
                print(f"#   {line}")
    if not NET:
        print(f"ok {n + 1} - network checks # SKIP no test network")
    shutil.rmtree(TMP, ignore_errors=True)
    return 0


sys.exit(main())
