#!/usr/bin/env python3
"""test_tlspol.py - the Python binding against the built library and the
test network: options and errors, every verdict, Result detail, peer
verification, asyncio concurrency and cancellation, leaks over 10,000
resolves, and a wheel built and installed with Debian's tooling.

Run as a script it prints TAP; ``python3 -m unittest`` works too.  The
library is $TLSPOL_LIBRARY (else libtlspol.so.0 through the loader).
Network tests need tests/net/with-net.sh and skip without it unless
TLSPOL_REQUIRE_NET=1.  An ASan-instrumented library is loaded by
re-running the script with libasan preloaded (leak checks off: Python
frees little at exit by design).
"""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import os
import pickle
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile
import traceback
import unittest
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable


def _asan_preload() -> None:
    """Re-exec with the library's libasan first, if it needs one."""
    lib = os.environ.get("TLSPOL_LIBRARY")
    if not lib or "libasan" in os.environ.get("LD_PRELOAD", ""):
        return
    ldd = subprocess.run(["ldd", lib], capture_output=True, text=True)
    m = re.search(r"libasan\.so\S* => (\S+)", ldd.stdout)
    if m:
        env = dict(os.environ, LD_PRELOAD=m.group(1), ASAN_OPTIONS=(
            os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


if __name__ == "__main__":
    _asan_preload()  # before libtlspol is loaded
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import tlspol  # noqa: E402
from tlspol import (DNSSEC, HostDane, Source, Status, StsMode,  # noqa: E402
                    Verdict)

ENV = os.environ
DATA = HERE.parents[2] / "tests" / "data"
NET = all(k in ENV for k in ("TLSPOL_TEST_RESOLVER", "TLSPOL_TEST_TA",
                             "TLSPOL_TEST_CA"))
SMTP = NET and ENV.get("TLSPOL_TEST_SMTP") == "1"
ASAN = "libasan" in ENV.get("LD_PRELOAD", "")
needs_net = unittest.skipUnless(NET, "no test network")


def net_context(**options: Any) -> tlspol.Context:
    """A context on the test network; timeout 2 s as slow.test expects."""
    return tlspol.Context(resolver=ENV["TLSPOL_TEST_RESOLVER"],
                          trust_anchor=ENV["TLSPOL_TEST_TA"],
                          ca_file=ENV["TLSPOL_TEST_CA"], timeout=2,
                          **options)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def der(pem_file: Path) -> list[bytes]:
    """The certificates of a PEM file, DER."""
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE"
                      r"-----", pem_file.read_text(), re.S)
    return [ssl.PEM_cert_to_DER_cert(p) for p in pems]


class TestLibrary(unittest.TestCase):
    @unittest.skipUnless(ENV.get("TLSPOL_REQUIRE_NET") == "1",
                         "TLSPOL_REQUIRE_NET is not set")
    def test_network_present_when_required(self) -> None:
        self.assertTrue(NET, "TLSPOL_REQUIRE_NET=1 but no test network")
        self.assertTrue(SMTP, "TLSPOL_REQUIRE_NET=1 but no SMTP servers")

    def test_versions_match(self) -> None:
        self.assertEqual(tlspol.library_version(), tlspol.__version__)

    def test_enums_carry_the_library_names(self) -> None:
        # The import already checked every member; spot-check str().
        self.assertEqual(str(Verdict.DANE_ONLY), "DANE_ONLY")
        self.assertEqual(f"{Source.MTA_STS_CACHE}", "mta-sts-cache")
        self.assertEqual(str(HostDane.NO_ADDRESS), "no-address")
        self.assertEqual(str(Status.INVAL), "INVAL")
        self.assertLess(Verdict.TEMPFAIL, Verdict.NO_POLICY)
        self.assertGreater(Verdict.STS_ENFORCE, Verdict.DANE)

    def test_errors_derive_from_one_class(self) -> None:
        for cls in (tlspol.InvalidArgumentError, tlspol.CanceledError,
                    tlspol.VerificationError):
            self.assertTrue(issubclass(cls, tlspol.Error))
        self.assertTrue(issubclass(tlspol.InvalidArgumentError, ValueError))
        e = pickle.loads(pickle.dumps(
            tlspol.InvalidArgumentError(Status.INVAL, "why")))
        self.assertEqual((type(e), e.status, str(e)),
                         (tlspol.InvalidArgumentError, Status.INVAL, "why"))
        self.assertEqual(tlspol.Error(Status.NOMEM).message, "out of memory")


class TestBadInput(unittest.TestCase):
    def setUp(self) -> None:
        self.ctx = tlspol.Context()
        self.addCleanup(self.ctx.close)

    def assertInval(self, words: str, fn: Callable[..., object], *args: Any,
                    **kw: Any) -> None:
        with self.assertRaises(tlspol.InvalidArgumentError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.status, Status.INVAL)
        self.assertIn(words, str(cm.exception))

    def test_invalid_domains_carry_the_c_message(self) -> None:
        for domain, words in ((".example.com", "leading dot"),
                              ("[mx.example.com]:25", "bracketed"),
                              ("192.0.2.7", "IP address"),
                              ("a\0b.test", "NUL")):
            with self.subTest(domain=domain):
                self.assertInval(words, self.ctx.resolve, domain)

    def test_wrong_types(self) -> None:
        for bad in (None, 7, b"enforce.test"):
            with self.subTest(bad=bad), self.assertRaises(TypeError):
                self.ctx.resolve(bad)  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            tlspol.Context(timeout="5")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            tlspol.Context(trust_anchor=3)  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            tlspol.Context(resolvers="127.0.0.1")  # type: ignore[call-arg]
        with self.assertRaises(TypeError):
            self.ctx.verify_chain(object(), "mx.test", [])  # type: ignore

    def test_bad_options(self) -> None:
        self.assertInval("not-an-address", tlspol.Context,
                         resolver="not-an-address")
        self.assertInval("host: not an IP address", tlspol.Context,
                         shared_store="redis://localhost")
        self.assertInval("outside 100..600000", tlspol.Context, timeout=0.05)
        for t in (float("nan"), float("inf"), -1):
            self.assertInval("timeout", tlspol.Context, timeout=t)
        self.assertInval("3 is not a Postfix version", tlspol.Context,
                         postfix_compat=3)
        self.assertInval("bad-level.yaml: line ", tlspol.Context,
                         config=DATA / "config" / "bad-level.yaml")

    def test_unreadable_files(self) -> None:
        with self.assertRaises(tlspol.Error) as cm:
            tlspol.Context(config="/nonexistent/tlspol.yaml")
        self.assertEqual(cm.exception.status, Status.IO)
        ctx = tlspol.Context(trust_anchor="/nonexistent/ta")
        with ctx, self.assertRaises(tlspol.Error) as cm:
            ctx.resolve("enforce.test")
        self.assertIn("/nonexistent/ta", str(cm.exception))

    def test_closed_context_raises(self) -> None:
        with tlspol.Context() as ctx:
            pass
        self.assertTrue(ctx.closed)
        ctx.close()  # twice is fine
        for call in (lambda: ctx.resolve("enforce.test"),
                     lambda: asyncio.run(ctx.resolve_async("enforce.test")),
                     lambda: ctx.pending, ctx.open, ctx.export_preload,
                     lambda: ctx.stat(tlspol.Stat.LOOKUPS),
                     lambda: ctx.load_config(DATA / "config" / "net.yaml")):
            self.assertInval("closed", call)

    def test_close_from_the_log_function_is_refused(self) -> None:
        logs: list[tuple[tlspol.LogLevel, str, str]] = []
        refused: list[Status] = []

        def log(level: tlspol.LogLevel, msgid: str, msg: str) -> None:
            logs.append((level, msgid, msg))
            try:
                ctx.close()
            except tlspol.Error as e:
                refused.append(e.status)

        ctx = tlspol.Context(log=log)
        with ctx:
            ctx.load_config(DATA / "config" / "warn-unknown.yaml")
            self.assertFalse(ctx.closed)
        self.assertEqual(refused[0], Status.BUSY)
        self.assertEqual(logs[0][0], tlspol.LogLevel.WARN)
        self.assertRegex(logs[0][1], r"^TP\d{4}$")

    def test_config_log(self) -> None:
        with tlspol.Context() as ctx, \
                tempfile.TemporaryDirectory() as tmp:
            self.assertEqual(ctx.config_log(), (None, None))
            cfg = Path(tmp) / "log.yaml"
            cfg.write_text("log:\n  level: debug\n  target: syslog\n")
            ctx.load_config(cfg)
            self.assertEqual(ctx.config_log(),
                             (tlspol.LogLevel.DEBUG, "syslog"))
            cfg.write_text("log:\n  level: error\n")
            ctx.load_config(cfg)
            self.assertEqual(ctx.config_log(),
                             (tlspol.LogLevel.ERROR, None))
        with self.assertRaises(tlspol.InvalidArgumentError):
            ctx.config_log()  # closed

    def test_log_function_errors_go_to_unraisablehook(self) -> None:
        caught: list[BaseException | None] = []

        def log(*_: object) -> None:
            raise RuntimeError("from the log function")

        hook, sys.unraisablehook = sys.unraisablehook, \
            lambda u: caught.append(u.exc_value)
        try:
            with tlspol.Context(log=log) as ctx:
                ctx.load_config(DATA / "config" / "warn-unknown.yaml")
        finally:
            sys.unraisablehook = hook
        self.assertTrue(caught)
        self.assertIsInstance(caught[0], RuntimeError)

    def test_no_fd_leak_over_contexts(self) -> None:
        before = open_fds()
        for _ in range(200):
            with tlspol.Context() as ctx:
                ctx.open()
        self.assertEqual(open_fds(), before)


# Every verdict: domain -> (verdict, source, tls, words in the reason).
VERDICTS = {
    "mx-mismatch.test": (Verdict.TEMPFAIL, Source.MTA_STS, "defer",
                         "no MX host matches"),
    "no-txt.test": (Verdict.NO_POLICY, Source.NONE, "may", "no TXT record"),
    "testing.test": (Verdict.STS_TESTING, Source.MTA_STS, "may",
                     "MTA-STS testing"),
    "preload-testing.test": (Verdict.PRELOAD_TESTING, Source.PRELOAD, "may",
                             "preload list: testing"),
    "dane-unusable.test": (Verdict.ENCRYPT, Source.DANE, "must",
                           "none usable"),
    "dane-mixed.test": (Verdict.DANE, Source.DANE, "must",
                        "DANE on 1 of 2 MX hosts"),
    "dane-ee.test": (Verdict.DANE_ONLY, Source.DANE, "must",
                     "all 1 usable MX hosts have"),
    "preload-enforce.test": (Verdict.PRELOAD_ENFORCE, Source.PRELOAD, "must",
                             "preload list enforce"),
    "enforce.test": (Verdict.STS_ENFORCE, Source.MTA_STS, "must",
                     "1 of 1 MX hosts match"),
    "local-secure.test": (Verdict.LOCAL, Source.LOCAL, "must",
                          "partner agreement"),
    "dane-bogus.test": (Verdict.TEMPFAIL, Source.DANE, "defer",
                        "no usable MX host"),
    "mx-bogus.test": (Verdict.TEMPFAIL, Source.NONE, "defer",
                      "DNSSEC bogus"),
}


@needs_net
class TestResolve(unittest.TestCase):
    ctx: tlspol.Context

    @classmethod
    def setUpClass(cls) -> None:
        cls.ctx = net_context()
        cls.addClassCleanup(cls.ctx.close)

    def test_every_verdict(self) -> None:
        self.assertEqual({v[0] for v in VERDICTS.values()}, set(Verdict))
        with net_context(preload=DATA / "preload" / "valid.json") as pre, \
                net_context(config=DATA / "config" / "net.yaml") as local:
            for domain, (verdict, source, tls, words) in VERDICTS.items():
                ctx = {Source.PRELOAD: pre, Source.LOCAL: local}.get(
                    source, self.ctx)
                with self.subTest(domain=domain):
                    r = ctx.resolve(domain)
                    self.assertEqual((r.domain, r.verdict, r.source, r.tls),
                                     (domain, verdict, source, tls), r)
                    self.assertIn(words, r.reason)
                    d = r.to_dict()
                    self.assertEqual((d["verdict"], d["source"], d["tls"]),
                                     (str(verdict), str(source), tls))

    def test_mta_sts_detail(self) -> None:
        self.ctx.purge("enforce.test")  # a fresh lookup has the whole trace
        r = self.ctx.resolve("ENFORCE.test.")
        self.assertEqual(r.domain, "enforce.test")
        self.assertEqual((r.sts_mode, r.sts_id, r.sts_max_age),
                         (StsMode.ENFORCE, "20261129T1", 86400))
        assert r.expires is not None
        self.assertEqual(r.expires.tzinfo, timezone.utc)
        self.assertLess(abs(r.expires - datetime.now(timezone.utc)
                            - timedelta(seconds=86400)), timedelta(hours=1))
        self.assertEqual(r.mx_patterns, ("mx1.enforce.test",))
        self.assertEqual((r.mx_dnssec, r.dane_available),
                         (DNSSEC.SECURE, True))
        self.assertEqual((r.published_verdict, r.local_level,
                          r.override_weakens, r.failopen),
                         (Verdict.STS_ENFORCE, None, False, False))
        (h,) = r.hosts
        self.assertEqual(h, tlspol.MXHost(
            name="mx1.enforce.test", preference=10, sts_match=True,
            dane=HostDane.NONE, address_dnssec=DNSSEC.SECURE,
            addresses=("127.0.2.1",), tlsa_name="_25._tcp.mx1.enforce.test",
            tlsa_base="mx1.enforce.test", tlsa_dnssec=DNSSEC.SECURE, tlsa=(),
            note=h.note))
        self.assertTrue(any(t.startswith("rule: RFC 8461") for t in r.trace))
        self.assertEqual(r.postfix_policy(), "OK secure match=mx1.enforce.test"
                         " servername=hostname")
        self.assertIn("policy_type=sts policy_domain=enforce.test",
                      r.postfix_policy(310))
        with self.assertRaises(tlspol.InvalidArgumentError):
            r.postfix_policy(3)
        d = r.to_dict()
        self.assertEqual((d["mta_sts"]["id"], d["hosts"][0]["name"]),
                         ("20261129T1", "mx1.enforce.test"))

    def test_dane_and_no_policy_detail(self) -> None:
        r = self.ctx.resolve("dane-cname.test")
        (h,) = r.hosts
        self.assertEqual(
            (h.dane, h.tlsa_name, h.tlsa_base, h.sts_match),
            (HostDane.USABLE, "_25._tcp.mx-target.dane-cname.test",
             "mx-target.dane-cname.test", None))
        self.assertEqual(len(h.tlsa), 1)
        self.assertTrue(h.tlsa[0].startswith("3 1 1 "))
        r = self.ctx.resolve("no-txt.test")
        self.assertEqual((r.sts_mode, r.sts_id, r.sts_max_age, r.expires,
                          r.mx_patterns), (StsMode.ABSENT, None, 0, None, ()))
        self.assertEqual(r.postfix_policy(), "NOTFOUND ")

    def test_local_override_and_failure_policy(self) -> None:
        logs: list[tuple[tlspol.LogLevel, str, str]] = []
        with net_context(config=DATA / "config" / "net.yaml",
                         log=lambda *a: logs.append(a)) as ctx:
            r = ctx.resolve("enforce.test")
            self.assertEqual((r.verdict, r.published_verdict, r.local_level,
                              r.override_weakens, r.tls),
                             (Verdict.LOCAL, Verdict.STS_ENFORCE, "may", True,
                              "may"))
            self.assertTrue(any("weakens the published STS_ENFORCE" in m
                                for _, _, m in logs), logs)
            r = ctx.resolve("dane-bogus.test")
            self.assertTrue(r.failopen)
            self.assertEqual(ctx.stat(tlspol.Stat.FAILOPEN), 1)

    def test_result_outlives_its_context(self) -> None:
        with net_context() as ctx:
            r = ctx.resolve("dane-mixed.test")
            self.assertIs(copy.copy(r), r)  # one owner of the C result
            self.assertIs(copy.deepcopy(r), r)
            dups: list[Callable[[Any], object]] = [
                copy.copy, copy.deepcopy, pickle.dumps]
            for dup in dups:
                with self.assertRaises(TypeError):
                    dup(ctx)
        del ctx
        gc.collect()
        self.assertEqual(r.verdict, Verdict.DANE)
        self.assertEqual(len(r.hosts), 2)
        self.assertEqual(r.to_dict()["domain"], "dane-mixed.test")
        self.assertEqual(r.postfix_policy(), "OK dane")
        self.assertIn("dane-mixed.test", repr(r))

    def test_check_resolver(self) -> None:
        report = self.ctx.check_resolver(ENV["TLSPOL_TEST_BOGUS_NAME"])
        self.assertTrue(report and "FAIL" not in report, report)
        with tlspol.Context(resolver=ENV["TLSPOL_TEST_STRIP_RESOLVER"],
                            trust_anchor=ENV["TLSPOL_TEST_TA"],
                            ca_file=ENV["TLSPOL_TEST_CA"], timeout=2) as ctx:
            with self.assertRaises(tlspol.Error) as cm:
                ctx.check_resolver()
            self.assertEqual(cm.exception.status, Status.DNSSEC)
            self.assertIn("strips DNSSEC records", str(cm.exception))
            r = ctx.resolve("dane-ee.test")
            self.assertFalse(r.dane_available)

    def test_trust_ad_cache_file_and_export(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache.sqlite"
            with net_context(trust_ad=True, cache_file=cache) as ctx:
                self.assertEqual(ctx.resolve("dane-ee.test").verdict,
                                 Verdict.DANE_ONLY)
                ctx.resolve("enforce.test")
                export = json.loads(ctx.export_preload())
            self.assertIn("enforce.test", export["policies"])
            self.assertTrue(cache.exists())

    def test_resolve_cached(self) -> None:
        with net_context() as ctx:
            self.assertIsNone(ctx.resolve_cached("enforce.test"))
            self.assertEqual(ctx.pending, 0)
            ctx.resolve("enforce.test")
            r = ctx.resolve_cached("ENFORCE.test.")
            assert r is not None
            self.assertEqual(r.verdict, Verdict.STS_ENFORCE)
            self.assertTrue(r.trace[-1].startswith("cache: result"))
            with self.assertRaises(tlspol.InvalidArgumentError):
                ctx.resolve_cached("a..test")

    def test_purge(self) -> None:
        with net_context() as ctx:
            ctx.resolve("enforce.test")
            self.assertTrue(ctx.purge("Enforce.Test."))
            self.assertFalse(ctx.purge("enforce.test"))
            with self.assertRaises(tlspol.InvalidArgumentError) as cm:
                ctx.purge("a..test")
            self.assertIn("empty label", str(cm.exception))
            self.assertEqual(ctx.resolve("enforce.test").source,
                             tlspol.Source.MTA_STS)

    def test_verify_chain(self) -> None:
        mx = Path(ENV["TLSPOL_TEST_STATEDIR"]) / "mx"
        dane = self.ctx.resolve("dane-ee.test")
        sts = self.ctx.resolve("enforce.test")
        why = self.ctx.verify_chain(dane, "mx1.dane-ee.test",
                                    der(mx / "mx1.dane-ee.test.pem"))
        self.assertIn("DANE-EE", why)
        self.ctx.verify_chain(sts, "mx1.enforce.test",
                              der(mx / "mx1.enforce.test.pem"))
        bad: list[tuple[tlspol.Result, str, list[bytes]]] = [
            (dane, "mx1.dane-ee.test", der(mx / "mx1.enforce.test.pem")),
            (sts, "mx1.enforce.test", []),  # no TLS
            (sts, "mx1.enforce.test", der(mx / "mx1.dane-ee.test.pem"))]
        for res, host, chain in bad:
            with self.subTest(host=host, n=len(chain)), \
                    self.assertRaises(tlspol.VerificationError) as cm:
                self.ctx.verify_chain(res, host, chain)
            self.assertEqual(cm.exception.status, Status.VERIFY)
            self.assertTrue(cm.exception.message)
        with self.assertRaises(tlspol.InvalidArgumentError):
            self.ctx.verify_chain(sts, "mx1.enforce.test", [b"not DER"])
        self.ctx.verify_chain(self.ctx.resolve("no-txt.test"),
                              "mx1.no-txt.test", [])

    @unittest.skipUnless(SMTP, "no SMTP servers on the test network")
    def test_verify_peer_over_starttls(self) -> None:
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE  # the library decides
        # DANE-TA needs the CA certificate the server sends after its own;
        # before Python 3.10 only the leaf can be had.
        whole_chain = sys.version_info >= (3, 10)
        for domain, ok in (("dane-ta.test", whole_chain),
                           ("enforce.test", True),
                           ("badcert-dane.test", False),
                           ("badcert-sts.test", False)):
            r = self.ctx.resolve(domain)
            host = r.hosts[0]
            with self.subTest(domain=domain), \
                    smtplib.SMTP(host.addresses[0], 25, timeout=5) as smtp:
                smtp.starttls(context=tls)
                assert isinstance(smtp.sock, ssl.SSLSocket)
                if ok:
                    self.ctx.verify_peer(r, host.name, smtp.sock)
                else:
                    with self.assertRaises(tlspol.VerificationError):
                        self.ctx.verify_peer(r, host.name, smtp.sock)


@needs_net
class TestAsync(unittest.TestCase):
    @unittest.skipUnless(SMTP, "no SMTP servers on the test network")
    def test_verify_peer_of_an_asyncio_connection(self) -> None:
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE

        async def main(ctx: tlspol.Context) -> str:
            r = await ctx.resolve_async("dane-ta.test")
            host = r.hosts[0]
            reader, writer = await asyncio.open_connection(
                host.addresses[0], 25)
            for command in (b"", b"EHLO client.test\r\n", b"STARTTLS\r\n"):
                writer.write(command)
                while (await reader.readline())[3:4] == b"-":
                    pass  # the greeting, then each reply, to its last line
            transport = await asyncio.get_running_loop().start_tls(
                writer.transport, writer.transport.get_protocol(), tls,
                server_hostname=host.name)
            try:
                return ctx.verify_peer(r, host.name,
                                       transport.get_extra_info("ssl_object"))
            finally:
                transport.close()

        with net_context() as ctx:
            if sys.version_info >= (3, 10):
                self.assertIn("DANE-TA", asyncio.run(main(ctx)))
            else:
                with self.assertRaises(tlspol.VerificationError):
                    asyncio.run(main(ctx))

    def test_many_lookups_in_flight(self) -> None:
        domains = [d for d in VERDICTS
                   if VERDICTS[d][1] not in (Source.PRELOAD, Source.LOCAL)]
        domains += ["wildcard.test", "multi-mx.test", "dane-sts.test",
                    "null-mx.test", "no-mx.test"]

        async def main() -> list[tlspol.Result]:
            with net_context() as ctx:
                slow = asyncio.ensure_future(ctx.resolve_async("slow.test"))
                tasks = [asyncio.ensure_future(ctx.resolve_async(d))
                         for d in domains]
                await asyncio.sleep(0)
                self.assertEqual(ctx.pending, 1 + len(domains))
                results = await asyncio.gather(*tasks)
                # All done while slow.test waits for its 2 s fetch timeout.
                self.assertFalse(slow.done())
                self.assertIn("timed out", (await slow).reason)
                self.assertEqual(ctx.pending, 0)
                return results

        results = asyncio.run(main())
        self.assertEqual([r.domain for r in results], domains)
        for r in results[:-5]:
            self.assertEqual(r.verdict, VERDICTS[r.domain][0], r)

    def test_cancel_one_lookup(self) -> None:
        async def main(ctx: tlspol.Context) -> None:
            task = asyncio.ensure_future(ctx.resolve_async("slow.test"))
            await asyncio.sleep(0.1)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            self.assertEqual(ctx.pending, 0)
            r = await ctx.resolve_async("testing.test")
            self.assertEqual(r.verdict, Verdict.STS_TESTING)

        with net_context() as ctx:
            asyncio.run(main(ctx))
            # the next loop may use the context again
            r = asyncio.run(ctx.resolve_async("no-txt.test"))
            self.assertEqual(r.verdict, Verdict.NO_POLICY)

    def test_close_with_lookups_in_flight(self) -> None:
        async def main() -> list[object]:
            ctx = net_context()
            tasks = [asyncio.ensure_future(ctx.resolve_async("slow.test"))]
            await asyncio.sleep(0.5)  # its policy fetch is under way
            tasks += [asyncio.ensure_future(ctx.resolve_async(d))
                      for d in ("multi-mx.test", "dane-ee.test")]
            await asyncio.sleep(0)
            self.assertEqual(ctx.pending, 3)
            ctx.close()
            out = await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(0.3)  # no callback may come after close
            return out

        for e in asyncio.run(main()):
            self.assertIsInstance(e, tlspol.CanceledError)
            assert isinstance(e, tlspol.Error)
            self.assertEqual(e.status, Status.CANCELED)

    def test_a_closed_event_loop_leaves_the_context_usable(self) -> None:
        with net_context() as ctx:
            loop = asyncio.new_event_loop()
            task = loop.create_task(ctx.resolve_async("slow.test"))
            loop.run_until_complete(asyncio.sleep(0.1))
            loop.close()  # with the lookup in flight
            r = asyncio.run(ctx.resolve_async("enforce.test"))
            self.assertEqual(r.verdict, Verdict.STS_ENFORCE)
            self.assertEqual(ctx.pending, 0)
            with self.assertLogs("asyncio", "ERROR"):
                del task  # "Task was destroyed but it is pending!"
                gc.collect()

    def test_callbacks_survive_garbage_collection(self) -> None:
        async def main() -> list[tlspol.Result]:
            # Only the coroutines reference the context and its callback.
            tasks = [asyncio.ensure_future(net_context().resolve_async(d))
                     for d in ("enforce.test", "dane-ee.test")]
            await asyncio.sleep(0)
            gc.collect()
            return await asyncio.gather(*tasks)

        self.assertEqual([r.verdict for r in asyncio.run(main())],
                         [Verdict.STS_ENFORCE, Verdict.DANE_ONLY])

    def test_invalid_domain_raises_at_once(self) -> None:
        async def main(ctx: tlspol.Context) -> None:
            with self.assertRaises(tlspol.InvalidArgumentError):
                await ctx.resolve_async("192.0.2.7")
            self.assertEqual(ctx.pending, 0)

        with net_context() as ctx:
            asyncio.run(main(ctx))


@needs_net
class TestLeaks(unittest.TestCase):
    N = 10_000
    # Verdict-cache hits (a TEMPFAIL is not cached: each would cost a
    # full lookup), so that the binding is what runs 10,000 times.
    DOMAINS = ("enforce.test", "dane-ee.test", "no-txt.test",
               "dane-mixed.test")

    def round(self, ctx: tlspol.Context, n: int) -> None:
        """n resolves, half sync, half async in batches of 50, with the
        results' attributes read and an invalid domain every 10th."""
        for i in range(n // 2):
            r = ctx.resolve(self.DOMAINS[i % 4])
            _ = r.hosts, r.to_dict(), r.postfix_policy(), r.expires
            if i % 10 == 0:
                with self.assertRaises(tlspol.InvalidArgumentError):
                    ctx.resolve(".bad")

        async def batches() -> None:
            for i in range(0, n // 2, 50):
                for r in await asyncio.gather(*(
                        ctx.resolve_async(self.DOMAINS[j % 4])
                        for j in range(i, i + 50))):
                    _ = r.hosts, r.reason, r.postfix_policy()
        asyncio.run(batches())

    def test_no_leak_over_10000_resolves(self) -> None:
        with net_context() as ctx:
            self.round(ctx, 2000)  # warm: caches, allocator arenas
            gc.collect()
            rss0, fds0 = rss_bytes(), open_fds()
            self.round(ctx, self.N)
            gc.collect()
            rss1, fds1 = rss_bytes(), open_fds()
        self.assertEqual(fds1, fds0)
        # 1 MiB is about 100 bytes per resolve.  A leaked C result is over
        # 1 KiB, a leaked Result object a few hundred bytes: measured, not
        # freeing the C results grew RSS by 42 MiB and keeping the Result
        # objects by 52 MiB, while a clean run grows by 8 to 100 KiB.
        print(f"# RSS {rss0 >> 10} KiB -> {rss1 >> 10} KiB over {self.N} "
              f"resolves; fds {fds0} -> {fds1}")
        if not ASAN:  # ASan's quarantine holds freed memory back
            self.assertLess(rss1 - rss0, 1 << 20)


def packaging_python() -> str | None:
    """The first interpreter with setuptools and wheel: this one, else
    Debian's."""
    for py in dict.fromkeys((sys.executable, "/usr/bin/python3")):
        if shutil.which(py) and subprocess.run(
                [py, "-c", "import setuptools, wheel"],
                capture_output=True).returncode == 0:
            return py
    return None


class TestPackaging(unittest.TestCase):
    def test_wheel_builds_installs_and_imports_offline(self) -> None:
        found = packaging_python()
        if found is None:
            self.skipTest("no python3 with setuptools and wheel")
        py: str = found
        env = dict(ENV, PIP_DISABLE_PIP_VERSION_CHECK="1",
                   PIP_NO_CACHE_DIR="1")
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "src"  # build a copy: no build/ in the tree
            shutil.copytree(HERE.parent, src,
                            ignore=shutil.ignore_patterns(
                                "tests", "build", "*.egg-info", "__pycache__"))
            dist, target = Path(tmp) / "dist", Path(tmp) / "target"

            def pip(*args: str) -> None:
                p = subprocess.run([py, "-m", "pip", *args], env=env,
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

            pip("wheel", "--no-deps", "--no-build-isolation", "--no-index",
                "-w", str(dist), str(src))
            (wheel,) = dist.glob("tlspol-*-py3-none-any.whl")
            pip("install", "--no-deps", "--no-index", "--target", str(target),
                str(wheel))
            self.assertTrue((target / "tlspol" / "py.typed").exists())
            p = subprocess.run(
                [py, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                 " import tlspol; print(tlspol.__file__);"
                 " print(tlspol.library_version())", str(target)],
                env=env, capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            where, version = p.stdout.split()
            self.assertTrue(where.startswith(str(target)), where)
            self.assertEqual(version, tlspol.library_version())


class TAPResult(unittest.TestResult):
    """Prints one TAP line per test (and per failed subtest)."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def line(self, ok: bool, test: unittest.TestCase, extra: str = "",
             err: Any = None) -> None:
        self.n += 1
        name = test.id().removeprefix("__main__.")
        print(f"{'ok' if ok else 'not ok'} {self.n} - {name}{extra}",
              flush=True)
        if err is not None:
            for ln in "".join(traceback.format_exception(*err)).splitlines():
                print(f"#   {ln}")

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self.line(True, test)

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self.line(False, test, err=err)

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self.line(False, test, err=err)

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self.line(True, test, f" # SKIP {reason}")

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase,
                   err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.line(False, subtest, err=err)


def main() -> int:
    suite = unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules[__name__])
    result = TAPResult()
    suite.run(result)
    print(f"1..{result.n}")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
