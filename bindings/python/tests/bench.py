#!/usr/bin/env python3
"""bench.py - what the binding costs per call (a program, not a test).

    tests/net/with-net.sh env TLSPOL_LIBRARY=build-test/libtlspol.so.0 \\
        python3 bindings/python/tests/bench.py

Prints the median over 7 runs of the cost of one call, for: a Python
function call (baseline); a no-op C call through ctypes
(tlspol_verdict_name); a Result getter; a verdict-cache hit resolved
synchronously through bare ctypes and through Context.resolve, and
through Context.resolve_cached; and
cache hits through Context.resolve_async, one at a time and 100 at once,
and asyncio's own cost for 100 futures at once without the library.
Compare with the C figure of ``build-test/tests/bench cached``.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import tlspol  # noqa: E402
from tlspol._native import ResultP, lib  # noqa: E402

DOMAIN = "enforce.test"


def per_call(fn: Callable[[int], object], n: int) -> float:
    """Median seconds per call of fn(n), which makes n calls."""
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        fn(n)
        runs.append((time.perf_counter() - t0) / n)
    return statistics.median(runs)


def report(what: str, seconds: float) -> None:
    print(f"{what:<52} {seconds * 1e9:10.0f} ns")


def main() -> None:
    env = os.environ
    ctx = tlspol.Context(resolver=env["TLSPOL_TEST_RESOLVER"],
                         trust_anchor=env["TLSPOL_TEST_TA"],
                         ca_file=env["TLSPOL_TEST_CA"])
    result = ctx.resolve(DOMAIN)  # warm the verdict cache
    name = DOMAIN.encode()

    def noop(_: int) -> None:
        pass

    def python_calls(n: int) -> None:
        for _ in range(n):
            noop(5)

    def c_calls(n: int) -> None:
        f = lib.tlspol_verdict_name
        for _ in range(n):
            f(5)

    def getters(n: int) -> None:
        for _ in range(n):
            result.verdict

    def bare_resolves(n: int) -> None:
        c = ctx._ctx
        out = ResultP()
        for _ in range(n):
            lib.tlspol_resolve_sync(c, name, ctypes.byref(out))
            lib.tlspol_result_free(out)

    def resolves(n: int) -> None:
        for _ in range(n):
            ctx.resolve(DOMAIN)

    def cached_probes(n: int) -> None:
        for _ in range(n):
            ctx.resolve_cached(DOMAIN)

    def async_resolves(n: int) -> None:
        async def run() -> None:
            for _ in range(n):
                await ctx.resolve_async(DOMAIN)
        asyncio.run(run())

    def async_batches(n: int) -> None:
        async def run() -> None:
            for _ in range(n // 100):
                await asyncio.gather(*(ctx.resolve_async(DOMAIN)
                                       for _ in range(100)))
        asyncio.run(run())

    def asyncio_batches(n: int) -> None:
        async def one() -> None:
            fut = asyncio.get_running_loop().create_future()
            fut.get_loop().call_soon(fut.set_result, None)
            await fut

        async def run() -> None:
            for _ in range(n // 100):
                await asyncio.gather(*(one() for _ in range(100)))
        asyncio.run(run())

    report("Python function call (baseline)", per_call(python_calls, 10**6))
    report("no-op C call via ctypes (tlspol_verdict_name)",
           per_call(c_calls, 10**6))
    report("Result.verdict (C getter + enum)", per_call(getters, 10**6))
    report("cached resolve, bare ctypes (resolve_sync+free)",
           per_call(bare_resolves, 10**5))
    report("cached resolve, Context.resolve", per_call(resolves, 10**5))
    report("cached answer, Context.resolve_cached",
           per_call(cached_probes, 10**5))
    report("cached resolve, resolve_async one at a time",
           per_call(async_resolves, 10**4))
    report("cached resolve, resolve_async 100 at once",
           per_call(async_batches, 10**4))
    report("asyncio alone: 100 futures at once (baseline)",
           per_call(asyncio_batches, 10**4))
    ctx.close()


if __name__ == "__main__":
    main()
