#!/usr/bin/env python3
"""test_shared_store.py TLSPOL_SOCKETMAPD - two socketmap servers sharing
MTA-STS policies through a real redis-server, queried by Postfix's own
postmap(1): the second server answers from the policy the first fetched;
with Redis killed mid-run both go on answering, say so in their log and
metrics, and recover when it is back.  Prints TAP.  Needs
tests/net/with-net.sh; skips without it unless TLSPOL_REQUIRE_NET=1."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

EXE = sys.argv[1]
ENV = os.environ
NET = all(k in ENV for k in ("TLSPOL_TEST_RESOLVER", "TLSPOL_TEST_TA",
                             "TLSPOL_TEST_CA"))
POSTMAP = shutil.which("postmap") or "/usr/sbin/postmap"
results = []


def check(name, cond, detail=""):
    results.append((name, bool(cond), detail))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


class Redis:
    def __init__(self, tmp):
        self.sock = os.path.join(tmp, "redis.sock")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.sock,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return wait_for(lambda: self.cli("PING") == "PONG", 5)

    def cli(self, *args):
        p = subprocess.run(["redis-cli", "-s", self.sock, *args],
                           capture_output=True, text=True, timeout=10)
        return p.stdout.strip() if p.returncode == 0 else None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Server:
    def __init__(self, tmp, name, config):
        self.sock = os.path.join(tmp, name + ".sock")
        self.logpath = os.path.join(tmp, name + ".log")
        self.port = free_port()
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(
            [EXE, "--listen", "unix:" + self.sock, "--config", config,
             "-r", ENV["TLSPOL_TEST_RESOLVER"], "-a", ENV["TLSPOL_TEST_TA"],
             "-c", ENV["TLSPOL_TEST_CA"], "-t", "2",
             "--metrics", f"inet:127.0.0.1:{self.port}",
             "--no-drop-privileges"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.ready = wait_for(lambda: "ready" in self.text(), 10)

    def text(self):
        with open(self.logpath) as f:
            return f.read()

    def query(self, key, tmp):
        cfg = os.path.join(tmp, "postfix")
        os.makedirs(cfg, exist_ok=True)
        open(os.path.join(cfg, "main.cf"), "a").close()
        t0 = time.time()
        p = subprocess.run([POSTMAP, "-c", cfg, "-q", key,
                            f"socketmap:unix:{self.sock}:postfix"],
                           capture_output=True, text=True, timeout=60)
        return p.stdout.strip(), time.time() - t0

    def metrics(self):
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/metrics", timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, val = line.rpartition(" ")
                out[key] = float(val)
        return out

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


def shared_checks(tmp):
    redis = Redis(tmp)
    check("redis-server up on a UNIX socket", redis.start())
    config = os.path.join(tmp, "tlspol.yaml")
    with open(config, "w") as f:
        f.write(f'shared_store: "unix:{redis.sock}"\n')
    a = Server(tmp, "a", config)
    b = Server(tmp, "b", config)
    try:
        check("both servers ready", a.ready and b.ready,
              a.text() + b.text())
        want = "secure match=mx1.enforce.test servername=hostname"
        got, _ = a.query("enforce.test", tmp)
        check("server A answers enforce.test (fetched)", got == want, got)
        check("A wrote the policy to Redis",
              wait_for(lambda: redis.cli("HGET", "tlspol:sts:enforce.test",
                                         "mode") == "3", 5))
        got, _ = b.query("enforce.test", tmp)
        m = b.metrics()
        check("server B answers enforce.test from the shared policy",
              got == want and m.get("tlspol_shared_store_hits_total") == 1
              and m.get("tlspol_shared_store_up") == 1, (got, m))
        check("B's decision names the cached policy, A's its fetch",
              wait_for(lambda: "enforce.test: STS_ENFORCE (mta-sts-cache)"
                       in b.text() and "enforce.test: STS_ENFORCE (mta-sts):"
                       in a.text(), 2),  # lines are written within 0.1 s
              a.text() + b.text())

        redis.kill()
        got, dt = b.query("dane-ee.test", tmp)
        check(f"Redis killed: B still answers, in {dt:.2f} s",
              got == "dane-only" and dt < 2.0, (got, dt))
        m = b.metrics()
        check("B's metrics: shared store down, errors counted",
              m.get("tlspol_shared_store_up") == 0
              and m.get("tlspol_shared_store_errors_total", 0) >= 1, m)
        check("B's log says it answers from the local cache",
              "answering from the local cache" in b.text(), b.text())
        got, _ = a.query("enforce.test", tmp)
        check("A answers its cached policy while Redis is down",
              got == want, got)

        check("Redis back", redis.start())
        check("B reconnects within the backoff",
              wait_for(lambda: b.metrics().get("tlspol_shared_store_up")
                       == 1, 10) and "is back" in b.text(), b.text())
        got, _ = a.query("multi-mx.test", tmp)
        check("A writes again after the outage",
              got.startswith("secure match=") and wait_for(
                  lambda: redis.cli("HGET", "tlspol:sts:multi-mx.test",
                                    "v") == "1", 5), got)
    finally:
        rc_a, rc_b = a.stop(), b.stop()
        redis.kill()
    check("both servers exit 0 on SIGTERM", rc_a == 0 and rc_b == 0,
          (rc_a, rc_b))


def option_checks(tmp):
    p = subprocess.run([EXE, "--listen", "unix:" + os.path.join(tmp, "x"),
                        "--shared-store", "redis://localhost",
                        "--no-drop-privileges"],
                       capture_output=True, text=True, timeout=30)
    check("--shared-store with a host name: refused at start, saying why",
          p.returncode != 0
          and "shared store: host: not an IP address" in p.stderr,
          (p.returncode, p.stderr))


def main():
    with tempfile.TemporaryDirectory(prefix="tlspol-shared-") as tmp:
        option_checks(tmp)
    if NET:
        with tempfile.TemporaryDirectory(prefix="tlspol-shared-") as tmp:
            shared_checks(tmp)
    elif ENV.get("TLSPOL_REQUIRE_NET") == "1":
        check("test network present (TLSPOL_REQUIRE_NET=1)", False)
    skip = not NET and ENV.get("TLSPOL_REQUIRE_NET") != "1"
    print(f"1..{len(results) + skip}")
    for n, (name, ok, detail) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {n} - {name}")
        if not ok:
            for line in str(detail).splitlines()[:30]:
                print(f"#   {line}")
    if skip:
        print(f"ok {len(results) + 1} - shared store checks # SKIP no test "
              "network")
    return 0


sys.exit(main())
