#!/usr/bin/env python3
"""test_query.py TLSPOL_QUERY - tlspol-query end to end against the test
network: every MTA-STS scenario in line, JSON and --explain output, exit
codes, argument errors.  Prints TAP.  Needs tests/net/with-net.sh; skips
without it unless TLSPOL_REQUIRE_NET=1."""

import json
import os
import subprocess
import sys
import tempfile
import time

EXE = sys.argv[1]
DATA = sys.argv[2] if len(sys.argv) > 2 else ""
ENV = os.environ
NET = all(k in ENV for k in ("TLSPOL_TEST_RESOLVER", "TLSPOL_TEST_TA",
                             "TLSPOL_TEST_CA"))
NETARGS = ["-r", ENV.get("TLSPOL_TEST_RESOLVER", ""),
           "-a", ENV.get("TLSPOL_TEST_TA", ""),
           "-c", ENV.get("TLSPOL_TEST_CA", ""), "-t", "2"]

# domain, verdict, tls, words expected in the reason
SCENARIOS = [
    ("enforce.test", "STS_ENFORCE", "must", "1 of 1 MX hosts match"),
    ("testing.test", "STS_TESTING", "may", "MTA-STS testing"),
    ("none.test", "NO_POLICY", "may", "MTA-STS mode none"),
    ("wildcard.test", "STS_ENFORCE", "must", "1 of 2 MX hosts match"),
    ("multi-mx.test", "STS_ENFORCE", "must", "2 of 2 MX hosts match"),
    ("mx-mismatch.test", "TEMPFAIL", "defer", "no MX host matches"),
    ("no-txt.test", "NO_POLICY", "may", "no TXT record"),
    ("bad-txt.test", "NO_POLICY", "may", "TXT: id:"),
    ("two-txt.test", "NO_POLICY", "may", "2 v=STSv1 records"),
    ("split-txt.test", "STS_ENFORCE", "must", "id split1"),
    ("ext-txt.test", "STS_ENFORCE", "must", "id ext1"),
    ("cname-txt.test", "STS_ENFORCE", "must", "1 of 1 MX hosts match"),
    ("http-404.test", "NO_POLICY", "may", "HTTP status 404"),
    ("redirect.test", "NO_POLICY", "may", "HTTP status 301"),
    ("wrong-name.test", "NO_POLICY", "may", "hostname mismatch"),
    ("unknown-ca.test", "NO_POLICY", "may", "local issuer"),
    ("expired-cert.test", "NO_POLICY", "may", "certificate has expired"),
    ("text-html.test", "NO_POLICY", "may", "text/html"),
    ("oversize.test", "NO_POLICY", "may", "body larger than 65536"),
    ("no-version.test", "NO_POLICY", "may", "missing version"),
    ("bad-mode.test", "NO_POLICY", "may", "line 2: mode:"),
    ("big-maxage.test", "STS_ENFORCE", "must", "1 of 1 MX hosts match"),
    ("crlf.test", "STS_ENFORCE", "must", "1 of 1 MX hosts match"),
    ("unknown-keys.test", "STS_ENFORCE", "must", "1 of 1 MX hosts match"),
    ("slow.test", "NO_POLICY", "may", "timed out after 2000 ms"),
    ("no-addr.test", "NO_POLICY", "may", "has no address"),
]

results = []


def check(name, cond, detail=""):
    results.append((name, bool(cond), detail))


def run(*args):
    p = subprocess.run([EXE, *args], capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


def offline_checks():
    rc, out, err = run("--help")
    check("--help exits 0 and documents exit status",
          rc == 0 and "Exit status" in out and "--explain" in out, out)
    rc, out, _ = run("--version")
    check("--version", rc == 0 and out.startswith("tlspol-query "), out)
    rc, _, err = run()
    check("no domain is a usage error", rc == 2 and "no DOMAIN" in err, err)
    rc, _, err = run("--bogus-option", "x.test")
    check("unknown option is a usage error", rc == 2, err)
    rc, _, err = run("-t", "abc", "x.test")
    check("bad --timeout is a usage error",
          rc == 2 and "--timeout" in err, err)
    for bad in ("nan", "inf", "-1", "0.05", "601", "1e999"):
        rc, _, err = run("-t", bad, "x.test")
        check(f"--timeout {bad} is a usage error",
              rc == 2 and "--timeout" in err, err)
    rc, _, err = run(".example.com")
    check("leading-dot key rejected with reason",
          rc == 2 and "leading dot" in err, err)
    rc, _, err = run("[mx.example.com]:25")
    check("bracketed next hop rejected", rc == 2 and "bracketed" in err, err)
    rc, _, err = run("192.0.2.7")
    check("IP literal rejected", rc == 2 and "IP address" in err, err)
    rc, _, err = run("-a", "/nonexistent/ta", "enforce.test")
    check("unreadable trust anchor exits 3 naming the file",
          rc == 3 and "/nonexistent/ta" in err, err)
    rc, _, err = run("-r", "not-an-address", "enforce.test")
    check("bad resolver exits 2 naming it",
          rc == 2 and "not-an-address" in err, err)
    rc, _, err = run("--shared-store", "redis://localhost", "enforce.test")
    check("--shared-store with a host name exits 2 saying why",
          rc == 2 and "shared store: host: not an IP address" in err, err)


def net_checks():
    doms = [s[0] for s in SCENARIOS]
    rc, out, err = run(*NETARGS, *doms)
    lines = out.splitlines()
    check("one line per domain", len(lines) == len(doms), out + err)
    check("a TEMPFAIL verdict exits 1", rc == 1, f"rc={rc} {err}")
    for (dom, verdict, tls, words), line in zip(SCENARIOS, lines):
        parts = line.split(" ", 3)
        ok = (len(parts) == 4 and parts[0] == dom and parts[1] == verdict
              and parts[2] == tls and words in parts[3])
        check(f"line: {dom} {verdict}", ok, line)

    rc, out, err = run(*NETARGS, "--json", *doms)
    objs = []
    try:
        objs = [json.loads(x) for x in out.splitlines()]
    except ValueError as e:
        check("--json output parses", False, f"{e}: {out[:300]}")
    check("--json: one object per domain", len(objs) == len(doms), err)
    for (dom, verdict, tls, words), o in zip(SCENARIOS, objs):
        ok = (o.get("domain") == dom and o.get("verdict") == verdict and
              o.get("tls") == tls and words in o.get("reason", "") and
              isinstance(o.get("hosts"), list) and
              isinstance(o.get("trace"), list) and len(o["trace"]) > 1)
        check(f"json: {dom}", ok, json.dumps(o)[:400])
    enf = next((o for o in objs if o.get("domain") == "enforce.test"), {})
    sts = enf.get("mta_sts") or {}
    check("json: enforce.test mta_sts block",
          sts.get("mode") == "enforce" and sts.get("id") == "20261129T1"
          and sts.get("max_age") == 86400 and
          sts.get("mx") == ["mx1.enforce.test"] and
          sts.get("expires", 0) > sts.get("fetched", 0) > 0, json.dumps(sts))
    big = next((o for o in objs if o.get("domain") == "big-maxage.test"), {})
    check("json: max_age clamped to 31557600",
          (big.get("mta_sts") or {}).get("max_age") == 31557600,
          json.dumps(big)[:300])

    rc, out, err = run(*NETARGS, "--explain", "wildcard.test")
    check("--explain exits 0", rc == 0, err)
    for want in ("verdict:  STS_ENFORCE", "DNS MX wildcard.test: NOERROR "
                 "secure", "DNS TXT _mta-sts.wildcard.test", "HTTPS GET "
                 "https://mta-sts.wildcard.test/.well-known/mta-sts.txt: 200",
                 "rule: RFC 8461", "deep.sub.wildcard.test  (does NOT match",
                 "mx1.wildcard.test  (matches policy)"):
        check(f"--explain shows '{want}'", want in out, out)

    rc, out, err = run(*NETARGS, "enforce.test", "testing.test")
    check("all resolved, none TEMPFAIL: exit 0", rc == 0, out + err)
    rc, out, err = run(*NETARGS, "-v", "bad-txt.test")
    check("-v logs the rejected TXT record to stderr at warning level",
          rc == 0 and "warning: bad-txt.test: TXT: id:" in err, err)


DANE = [
    ("dane-ee.test", "DANE_ONLY", "must", "all 1 usable MX hosts have"),
    ("dane-mixed.test", "DANE", "must", "DANE on 1 of 2 MX hosts"),
    ("dane-unusable.test", "ENCRYPT", "must", "none usable"),
    ("dane-bogus.test", "TEMPFAIL", "defer", "no usable MX host"),
    ("mx-bogus.test", "TEMPFAIL", "defer", "DNSSEC bogus"),
    ("dane-sts.test", "DANE_ONLY", "must", "usable TLSA"),
    ("null-mx.test", "NO_POLICY", "may", "null MX"),
]


def dane_checks():
    doms = [d[0] for d in DANE]
    rc, out, err = run(*NETARGS, *doms)
    lines = out.splitlines()
    check("dane: one line per domain, TEMPFAIL exits 1",
          len(lines) == len(doms) and rc == 1, out + err)
    for (dom, verdict, tls, words), line in zip(DANE, lines):
        parts = line.split(" ", 3)
        check(f"dane line: {dom} {verdict}",
              len(parts) == 4 and parts[:3] == [dom, verdict, tls]
              and words in parts[3], line)
    rc, out, err = run(*NETARGS, "--json", "dane-cname.test")
    try:
        o = json.loads(out)
    except ValueError:
        o = {}
    h = (o.get("hosts") or [{}])[0]
    check("json: DANE host detail",
          o.get("verdict") == "DANE_ONLY" and o.get("mx_dnssec") == "secure"
          and o.get("dane_available") is True and h.get("dane") == "usable"
          and h.get("address_dnssec") == "secure"
          and h.get("tlsa_name") == "_25._tcp.mx-target.dane-cname.test"
          and h.get("tlsa_dnssec") == "secure" and len(h.get("tlsa", [])) == 1
          and h["tlsa"][0].startswith("3 1 1 "), out[:600])
    rc, out, err = run(*NETARGS, "--explain", "addr-bogus.test")
    for want in ("verdict:  DANE", "MX:       DNSSEC secure",
                 "DANE failed: address lookup bogus", "DANE usable:",
                 "TLSA 3 1 1 "):
        check(f"--explain addr-bogus.test shows '{want}'", want in out, out)
    bogus = ENV.get("TLSPOL_TEST_BOGUS_NAME", "")
    rc, out, err = run(*NETARGS, "--check-resolver", "--bogus-name", bogus)
    check("--check-resolver on a good path exits 0",
          rc == 0 and "result: DNSSEC works" in out and "FAIL" not in out,
          out + err)
    strip = ENV.get("TLSPOL_TEST_STRIP_RESOLVER", "")
    args = ["-r", strip] + NETARGS[2:]
    rc, out, err = run(*args, "--check-resolver", "dane-ee.test")
    check("--check-resolver on a stripping path exits 4 and names it",
          rc == 4 and "strips DNSSEC records" in out and
          "DANE unavailable" in out, out + err)
    rc, out, err = run(*NETARGS, "--trust-ad", "dane-ee.test")
    check("--trust-ad with a validating resolver",
          rc == 0 and " DANE_ONLY " in out, out + err)


def policy_checks():
    rc, out, err = run(*NETARGS, "--postfix", "enforce.test", "dane-ee.test",
                       "testing.test", "wildcard.test")
    want = ["enforce.test\tOK secure match=mx1.enforce.test "
            "servername=hostname",
            "dane-ee.test\tOK dane-only", "testing.test\tNOTFOUND ",
            "wildcard.test\tOK secure match=.wildcard.test "
            "servername=hostname"]
    check("--postfix replies", rc == 0 and out.splitlines() == want,
          out + err)
    rc, out, err = run(*NETARGS, "--postfix", "--postfix-compat", "3.10",
                       "enforce.test")
    check("--postfix-compat 3.10 adds TLSRPT attributes",
          rc == 0 and "policy_type=sts policy_domain=enforce.test "
          "mx_host_pattern=mx1.enforce.test" in out, out + err)
    rc, out, err = run(*NETARGS, "--postfix-compat", "3", "x.test")
    check("bad --postfix-compat is a usage error", rc == 2, err)
    conf = os.path.join(DATA, "config")
    rc, out, err = run(*NETARGS, "--config", os.path.join(conf, "net.yaml"),
                       "enforce.test", "local-secure.test")
    check("--config: overrides apply, a weakening one is logged",
          rc == 0 and "enforce.test LOCAL may local policy may" in out
          and "local-secure.test LOCAL must local policy secure" in out
          and "weakens the published STS_ENFORCE" in err, out + err)
    rc, out, err = run(*NETARGS, "--config",
                       os.path.join(conf, "bad-level.yaml"), "x.test")
    check("--config with an error exits 2 naming file and line",
          rc == 2 and "bad-level.yaml: line " in err, err)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "log.yaml")
        with open(cfg, "w") as f:
            f.write("log:\n  level: debug\n  target: syslog\n")
        rc, out, err = run(*NETARGS, "--config", cfg, "dane-ee.test")
        check("config log level debug: debug lines on stderr without -v "
              "(target: syslog does not apply to the CLI)",
              rc == 0 and "tlspol-query: debug: dane-ee.test: lookup "
              "started" in err, err)
        rc, out, err = run(*NETARGS, "--config", cfg, "-v", "dane-ee.test")
        check("-v overrides the config's level",
              rc == 0 and "info: dane-ee.test: DANE_ONLY" in err
              and "debug:" not in err, err)
    pre = os.path.join(DATA, "preload")
    rc, out, err = run(*NETARGS, "--preload", os.path.join(pre, "valid.json"),
                       "preload-enforce.test")
    check("--preload decides without MTA-STS",
          " PRELOAD_ENFORCE must " in out, out + err)
    rc, out, err = run(*NETARGS, "--preload",
                       os.path.join(pre, "expired.json"),
                       "preload-enforce.test")
    check("--preload with an expired list warns and is ignored",
          " NO_POLICY " in out and "expired" in err, out + err)


def connect_checks():
    cases = [
        ("enforce.test", 0, ["STARTTLS, TLSv1.", "satisfies the policy",
                             "names mx1.enforce.test"]),
        ("dane-ee.test", 0, ["satisfies the policy", "DANE-EE"]),
        ("dane-ta.test", 0, ["satisfies the policy", "DANE-TA"]),
        ("badcert-sts.test", 5, ["does NOT satisfy the policy"]),
        ("badcert-dane.test", 5, ["does NOT satisfy the policy",
                                  "no usable TLSA record"]),
        ("no-starttls.test", 0, ["no STARTTLS", "satisfies the policy",
                                 "opportunistic"]),
        ("plain-may.test", 0, ["STARTTLS, TLSv1.", "opportunistic"]),
    ]
    for dom, want_rc, words in cases:
        rc, out, err = run(*NETARGS, "--connect", dom)
        check(f"--connect {dom}: exit {want_rc}",
              rc == want_rc and all(w in out for w in words), out + err)


def shared_store_checks():
    """Two runs sharing a real redis-server: the second takes the policy
    the first fetched; with the server gone, lookups still answer."""
    with tempfile.TemporaryDirectory(prefix="tlspol-cli-redis-") as d:
        sock = os.path.join(d, "redis.sock")
        srv = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", sock,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                if os.path.exists(sock):
                    break
                time.sleep(0.01)
            args = [*NETARGS, "--shared-store", "unix:" + sock, "--explain",
                    "enforce.test"]
            rc1, out1, err1 = run(*args)
            rc2, out2, err2 = run(*args)
            check("--shared-store: the first run fetches and shares",
                  rc1 == 0 and "HTTPS GET" in out1
                  and "shared store: no entry" in out1, out1 + err1)
            check("--shared-store: the second run takes the shared policy",
                  rc2 == 0 and "by another node" in out2
                  and "HTTPS GET" not in out2, out2 + err2)
        finally:
            srv.kill()
            srv.wait()
        rc, out, err = run(*NETARGS, "-v", "--shared-store", "unix:" + sock,
                           "testing.test")
        check("--shared-store down: answered, and the outage logged",
              rc == 0 and out.startswith("testing.test STS_TESTING")
              and "answering from the local cache" in err, out + err)


def main():
    offline_checks()
    if NET:
        net_checks()
        dane_checks()
        policy_checks()
        shared_store_checks()
        if ENV.get("TLSPOL_TEST_SMTP") == "1":
            connect_checks()
        elif ENV.get("TLSPOL_REQUIRE_NET") == "1":
            check("SMTP servers present (TLSPOL_REQUIRE_NET=1)", False)
    elif ENV.get("TLSPOL_REQUIRE_NET") == "1":
        check("test network present (TLSPOL_REQUIRE_NET=1)", False)
    print(f"1..{len(results) + (0 if NET else 1)}")
    n = 0
    for n, (name, ok, detail) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {n} - {name}")
        if not ok:
            for line in str(detail).splitlines()[:20]:
                print(f"#   {line}")
    if not NET:
        print(f"ok {n + 1} - network checks # SKIP no test network")
    return 0


sys.exit(main())
