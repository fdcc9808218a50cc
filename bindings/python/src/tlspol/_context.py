"""Context: options, synchronous and asyncio resolution, peer checks."""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import ssl
import threading
from ctypes import byref, c_char_p, c_int, c_size_t
from typing import (TYPE_CHECKING, Any, Callable, Iterable, NoReturn, Sequence,
                    Union)

from ._enums import LogLevel, Stat, Status
from ._errors import CanceledError, Error, InvalidArgumentError, error
from ._native import (CtxP, LogCallback, QueryP, ResultCallback, ResultP,
                      lib, text)
from ._result import Result

if TYPE_CHECKING:
    from ctypes import _Pointer

    from ._native import _Ctx, _Query, _Result

StrPath = Union[str, "os.PathLike[str]"]
#: log(level, msgid, message): msgid is a stable id such as "TP1402"
LogFunction = Callable[[LogLevel, str, str], None]

_DNSSEC_VALIDATE, _DNSSEC_TRUST_AD = 0, 1  # tlspol_dnssec_mode
_UINT_MAX = 0xFFFFFFFF


class _Pending:
    """What the C callbacks of one Context touch, kept apart from the
    Context so that the callbacks it holds do not hold it (no cycle)."""

    def __init__(self) -> None:
        #: userdata key -> (future, query handle) of each lookup in flight
        self.lookups: dict[int, tuple[asyncio.Future[Result],
                                      _Pointer[_Query]]] = {}
        self.in_log = 0  # > 0 while the log function runs

    def on_result(self, status: int, res: _Pointer[_Result],
                  key: int) -> None:
        """tlspol_result_cb: settle the lookup's future."""
        fut, _ = self.lookups.pop(key)
        result = Result(res) if res else None  # owned from here on
        if fut.done() or fut.get_loop().is_closed():
            return
        if result is None:
            fut.set_exception(error(status))
        else:
            fut.set_result(result)


def _log_callback(fn: LogFunction, pending: _Pending) -> object:
    def log(level: int, msgid: bytes, msg: bytes, _: Any) -> None:
        pending.in_log += 1
        try:
            fn(LogLevel(level), text(msgid), text(msg))
        finally:
            pending.in_log -= 1
    return LogCallback(log)


def _cstr(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if "\0" in value:  # C would see a shorter string
        raise _nul(what)
    return value.encode()


def _cpath(value: StrPath, what: str) -> bytes:
    path = os.fsencode(value)
    if b"\0" in path:
        raise _nul(what)
    return path


def _nul(what: str) -> InvalidArgumentError:
    return InvalidArgumentError(Status.INVAL, f"{what} contains NUL")


def _uint(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value <= _UINT_MAX:
        raise InvalidArgumentError(Status.INVAL, f"{what}: {value} is out "
                                   "of range")
    return value


def _milliseconds(seconds: float, what: str) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not "
                        f"{type(seconds).__name__}")
    if not (math.isfinite(seconds) and 0 <= seconds * 1000 <= _UINT_MAX):
        raise InvalidArgumentError(Status.INVAL, f"{what}: {seconds} s is "
                                   "out of range")
    return round(seconds * 1000)


def _peer_chain(conn: ssl.SSLSocket | ssl.SSLObject) -> list[bytes]:
    """The certificates the peer sent, DER, leaf first: the unverified
    chain, since a DANE peer need not verify against any CA."""
    public = getattr(conn, "get_unverified_chain", None)  # 3.13+
    if public is not None:
        return list(public() or ())
    sslobj = getattr(conn, "_sslobj", None)
    private = getattr(sslobj, "get_unverified_chain", None)  # 3.10-3.12
    if private is not None:  # _ssl.Certificate objects
        return [ssl.PEM_cert_to_DER_cert(c.public_bytes())
                for c in private() or ()]
    leaf = conn.getpeercert(binary_form=True)  # older: the leaf only
    return [leaf] if leaf else []


class Context:
    """A libtlspol resolver context: options, a verdict cache and an
    MTA-STS policy cache.

    Every option is keyword-only and optional; the names follow the C
    API and ``tlspol-query``.  *config* is loaded first, so the other
    options override it, as on the command line.

    :param config: YAML configuration file (tlspol.yaml(5)).
    :param resolver: DNS resolver address(es), "127.0.0.1" or
        "::1@5353", as one string (space- or comma-separated) or a list;
        default: the system's.
    :param trust_anchor: DNSSEC trust anchor file (DS or DNSKEY records).
    :param ca_file: PEM bundle that HTTPS policy hosts must chain to.
    :param ca_path: hashed CA directory, as *ca_file*.
    :param cache_file: SQLite file that keeps MTA-STS policies across
        restarts; default: memory only.
    :param shared_store: Redis/Valkey shared by a fleet of MTAs,
        "redis://IP[:PORT][/DB]" or "unix:/PATH"; default: none.
    :param timeout: bound in seconds on each DNS query and policy fetch
        (0.1 to 600; default 30).
    :param trust_ad: believe the resolver's AD bit instead of validating
        DNSSEC here (only for a validating resolver on loopback).
    :param preload: preload list file(s), later ones win per domain.
    :param postfix_compat: Postfix version as major*100+minor for
        :meth:`Result.postfix_policy` (default 309).
    :param log: called with (level, msgid, message) for each log line up
        to *log_level*, from inside the calls of this context.
    :param log_level: the most verbose level passed to *log*.
    :raises Error: an option was refused; the message says which.

    A context is not thread-safe in C; this class serializes its calls
    with a lock.  While :meth:`resolve_async` lookups are in flight, use
    it only from its event loop's thread.  Close it (or use ``with``) to
    free it at once; lookups still in flight then fail with
    :class:`CanceledError`.  Results stay valid after close.
    """

    def __init__(self, *, config: StrPath | None = None,
                 resolver: str | Iterable[str] | None = None,
                 trust_anchor: StrPath | None = None,
                 ca_file: StrPath | None = None,
                 ca_path: StrPath | None = None,
                 cache_file: StrPath | None = None,
                 shared_store: str | None = None,
                 timeout: float | None = None,
                 trust_ad: bool | None = None,
                 preload: StrPath | Iterable[StrPath] = (),
                 postfix_compat: int | None = None,
                 log: LogFunction | None = None,
                 log_level: LogLevel = LogLevel.WARN) -> None:
        self._lock = threading.RLock()
        self._ctx: _Pointer[_Ctx] | None = None
        ctx = CtxP()
        status = lib.tlspol_ctx_new(byref(ctx))
        if status:
            raise error(status)
        self._ctx = ctx
        self._fd: int = lib.tlspol_ctx_get_fd(ctx)
        self._pending = _Pending()
        self._on_result = ResultCallback(self._pending.on_result)
        self._on_log: object = None  # referenced while ctx uses it
        self._loop: asyncio.AbstractEventLoop | None = None  # reads _fd
        self._keys = itertools.count(1)  # userdata 0 would be NULL
        try:
            if log is not None:
                self._on_log = _log_callback(log, self._pending)
                lib.tlspol_ctx_set_log_fn(ctx, self._on_log, None,
                                          LogLevel(log_level))
            if config is not None:
                self.load_config(config)
            self._configure(resolver, trust_anchor, ca_file, ca_path,
                            cache_file, timeout, trust_ad, postfix_compat)
            if shared_store is not None:
                self._call(lib.tlspol_ctx_set_shared_store,
                           _cstr(shared_store, "shared_store"))
            if isinstance(preload, (str, os.PathLike)):
                preload = [preload]
            for path in preload:
                self.add_preload(path)
        except BaseException:
            self.close()
            raise

    def _configure(self, resolver: str | Iterable[str] | None,
                   trust_anchor: StrPath | None, ca_file: StrPath | None,
                   ca_path: StrPath | None, cache_file: StrPath | None,
                   timeout: float | None, trust_ad: bool | None,
                   postfix_compat: int | None) -> None:
        if resolver is not None:
            self._call(lib.tlspol_ctx_set_resolvers, _cstr(
                resolver if isinstance(resolver, str) else " ".join(resolver),
                "resolver"))
        for fn, path, what in (
                (lib.tlspol_ctx_set_trust_anchor_file, trust_anchor,
                 "trust_anchor"),
                (lib.tlspol_ctx_set_ca_file, ca_file, "ca_file"),
                (lib.tlspol_ctx_set_ca_path, ca_path, "ca_path"),
                (lib.tlspol_ctx_set_cache_file, cache_file, "cache_file")):
            if path is not None:
                self._call(fn, _cpath(path, what))
        if timeout is not None:
            self._call(lib.tlspol_ctx_set_timeout,
                       _milliseconds(timeout, "timeout"))
        if trust_ad is not None:
            self._call(lib.tlspol_ctx_set_dnssec_mode,
                       _DNSSEC_TRUST_AD if trust_ad else _DNSSEC_VALIDATE)
        if postfix_compat is not None:
            self._call(lib.tlspol_ctx_set_postfix_compat,
                       _uint(postfix_compat, "postfix_compat"))

    # -- lifetime ---------------------------------------------------------

    def close(self) -> None:
        """Free the context.  Lookups in flight are canceled and their
        awaiters get :class:`CanceledError`.  Closing twice is a no-op.

        :raises Error: (BUSY) when called from this context's log function.
        """
        with self._lock:
            if self._ctx is None:
                return
            if self._pending.in_log:
                raise error(Status.BUSY, "close() from the log function of "
                            "this context")
            self._abort(lambda: CanceledError(Status.CANCELED,
                                              "the context was closed"))
            lib.tlspol_ctx_free(self._ctx)
            self._ctx = None
            self._on_log = None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._ctx is None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_ctx", None) is not None:
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._ctx is None else f"fd {self._fd}"
        return f"<tlspol.Context {state}>"

    def __reduce__(self) -> NoReturn:  # copy, deepcopy and pickle
        raise TypeError("a tlspol.Context cannot be copied or pickled")

    # -- configuration ----------------------------------------------------

    def load_config(self, path: StrPath) -> None:
        """Load, or reload, a YAML configuration file (tlspol.yaml(5)).
        A file with an error leaves the previous configuration in force.

        :raises InvalidArgumentError: names the file, line and key.
        :raises Error: (IO) the file cannot be read.
        """
        self._call(lib.tlspol_ctx_load_config, _cpath(path, "config"))

    def config_log(self) -> tuple[LogLevel | None, str | None]:
        """The ``log:`` settings of the configuration loaded last, for a
        program that logs for itself: (level, "stderr" or "syslog"), each
        None where the file does not set it.  The library applies
        neither: its messages go to the log function given here."""
        level, target = c_int(), c_int()
        with self._lock:
            status = lib.tlspol_ctx_config_log(self._ptr(), byref(level),
                                               byref(target))
        if status:
            raise self._error(status)
        return (LogLevel(level.value) if level.value >= 0 else None,
                ("stderr", "syslog")[target.value] if target.value >= 0
                else None)

    def add_preload(self, path: StrPath) -> None:
        """Add a preload list (STARTTLS-Everywhere JSON) after those
        loaded; an expired list is ignored with a WARN log line."""
        self._call(lib.tlspol_ctx_add_preload, _cpath(path, "preload"))

    def open(self) -> None:
        """Set the context up now (resolver, trust anchor, HTTPS client,
        cache file) rather than at the first lookup, so that setup errors
        show at once.  Options are fixed afterwards."""
        self._call(lib.tlspol_ctx_open)

    def check_resolver(self, bogus_name: str | None = None) -> str:
        """Test that the resolver path delivers validatable DNSSEC.
        Blocks for up to a few timeouts.

        :param bogus_name: a name with broken signatures that a validating
            path must reject, or None to skip that check.
        :return: the report, one line per check.
        :raises Error: (DNSSEC) when DNSSEC does not work; the message is
            the report.  The context then gives no DANE verdicts.
        """
        name = None if bogus_name is None else _cstr(bogus_name, "bogus_name")
        report = c_char_p()
        with self._lock:
            status = lib.tlspol_ctx_check_resolver(self._ptr(), name,
                                                   byref(report))
            lines = text(report.value or b"")
            if status == Status.DNSSEC:
                raise error(status, lines)
            if status:
                raise self._error(status)
        return lines

    # -- resolving --------------------------------------------------------

    def resolve(self, domain: str) -> Result:
        """Resolve the TLS policy of a next-hop domain, blocking.

        :param domain: A-label or U-label, any case, one trailing dot
            allowed.
        :raises InvalidArgumentError: an invalid domain (leading dot,
            bracketed next hop, IP literal ...); the message says why.
        :raises Error: the resolver could not be set up (DNS, IO).

        A failed security-relevant lookup is not an error: it is the
        verdict TEMPFAIL.
        """
        name = _cstr(domain, "domain")
        out = ResultP()
        with self._lock:
            status = lib.tlspol_resolve_sync(self._ptr(), name, byref(out))
            if status:
                raise self._error(status)
        return Result(out)

    def resolve_cached(self, domain: str) -> Result | None:
        """The result from the verdict cache, or None when *domain* has
        none; never starts a lookup and never blocks.

        :raises InvalidArgumentError: an invalid domain.
        """
        name = _cstr(domain, "domain")
        out = ResultP()
        with self._lock:
            status = lib.tlspol_resolve_cached(self._ptr(), name, byref(out))
            if status:
                raise self._error(status)
        return Result(out) if out else None

    async def resolve_async(self, domain: str) -> Result:
        """As :meth:`resolve`, without blocking the event loop: the
        context's file descriptor is watched with ``loop.add_reader``
        while lookups are in flight, and any number may be in flight at
        once.  Canceling the awaiting task cancels the lookup.

        :raises CanceledError: the context was closed meanwhile.
        """
        name = _cstr(domain, "domain")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Result] = loop.create_future()
        key = next(self._keys)
        query = QueryP()
        with self._lock:
            ctx = self._ptr()
            if self._loop is not None and self._loop.is_closed():
                self._abort(lambda: CanceledError(
                    Status.CANCELED, "the event loop was closed"))
            if self._loop is None:
                loop.add_reader(self._fd, self._dispatch)
                self._loop = loop
            elif self._loop is not loop:
                raise RuntimeError("tlspol.Context: lookups are in flight "
                                   "on another event loop")
            status = lib.tlspol_resolve(ctx, name, self._on_result, key,
                                        byref(query))
            if status:
                err = self._error(status)
                if not self._pending.lookups:
                    self._unwatch()
                raise err
            self._pending.lookups[key] = (fut, query)
        try:
            return await fut
        finally:
            self._forget(key)

    @property
    def pending(self) -> int:
        """Number of lookups started and not yet completed or canceled."""
        with self._lock:
            return int(lib.tlspol_ctx_pending(self._ptr()))

    def _dispatch(self) -> None:
        """Reader callback: run due work; callbacks settle futures."""
        with self._lock:
            if self._ctx is None:
                return
            status = lib.tlspol_ctx_dispatch(self._ctx)
            if status:
                err = self._error(status)
                self._abort(lambda: error(err.status, err.message))
            elif not self._pending.lookups:
                self._unwatch()

    def _forget(self, key: int) -> None:
        """Cancel a lookup whose awaiter went away before its callback."""
        with self._lock:
            entry = self._pending.lookups.pop(key, None)
            if entry is not None:
                lib.tlspol_query_cancel(entry[1])
                if not self._pending.lookups:
                    self._unwatch()

    def _abort(self, exc: Callable[[], Error]) -> None:
        """Cancel every lookup in flight and fail its future with exc()."""
        lookups = list(self._pending.lookups.values())
        self._pending.lookups.clear()
        for fut, query in lookups:
            lib.tlspol_query_cancel(query)
            if not fut.done() and not fut.get_loop().is_closed():
                fut.set_exception(exc())
        self._unwatch()

    def _unwatch(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._fd)

    # -- peer verification ------------------------------------------------

    def verify_chain(self, result: Result, mx_host: str,
                     chain: Sequence[bytes]) -> str:
        """Check the certificate chain an MX host presented against the
        verdict: DANE-EE/DANE-TA against the host's TLSA records (RFC 7672
        section 3), or, for MTA-STS, preload and local "secure", a policy
        match, a chain to a trusted root and the host name (RFC 8461
        section 4).

        :param chain: DER certificates, leaf first; empty when the
            connection has no TLS.
        :return: why the chain satisfies the policy.
        :raises VerificationError: it does not; the message says why.
        :raises InvalidArgumentError: a certificate cannot be decoded.
        """
        if not isinstance(result, Result):
            raise TypeError("result must be a tlspol.Result")
        host = _cstr(mx_host, "mx_host")
        ders = [bytes(memoryview(c)) for c in chain]
        n = len(ders)
        why = c_char_p()
        with self._lock:
            status = lib.tlspol_verify_chain(
                self._ptr(), result._handle, host, (c_char_p * n)(*ders),
                (c_size_t * n)(*map(len, ders)), n, byref(why))
            reason = text(why.value or b"")
            if status == Status.VERIFY:
                raise error(status, reason)
            if status:
                raise self._error(status)
        return reason

    def verify_peer(self, result: Result, mx_host: str,
                    conn: ssl.SSLSocket | ssl.SSLObject) -> str:
        """:meth:`verify_chain` with the chain the peer of a TLS connection
        sent (after the handshake).  Python 3.10 and later give the whole
        chain; older versions only the leaf certificate, which is enough
        for DANE-EE and for a peer whose leaf the CA file signs directly.
        """
        return self.verify_chain(result, mx_host, _peer_chain(conn))

    # -- cache and counters -----------------------------------------------

    def export_preload(self) -> str:
        """The valid cached MTA-STS policies as a preload list (JSON), to
        warm another node with :meth:`add_preload`."""
        with self._lock:
            ctx = self._ptr()
            status = lib.tlspol_ctx_open(ctx)  # the export's setup step
            if status:
                raise self._error(status)
            doc = lib.tlspol_ctx_export_preload(ctx)
            if doc is None:
                raise self._error(Status.NOMEM)
        return text(doc)

    def purge(self, domain: str) -> bool:
        """Forget what is cached about *domain* (result, MTA-STS policy in
        memory, cache file and shared store).

        :return: whether anything was cached.
        :raises InvalidArgumentError: an invalid domain name.
        """
        found = c_int()
        with self._lock:
            status = lib.tlspol_ctx_purge(self._ptr(),
                                          _cstr(domain, "domain"),
                                          byref(found))
            if status:
                raise self._error(status)
        return bool(found.value)

    def stat(self, which: Stat) -> int:
        """A counter: lookups, cache hits, ..."""
        with self._lock:
            return int(lib.tlspol_ctx_stat(self._ptr(), Stat(which)))

    # -- helpers ----------------------------------------------------------

    def _ptr(self) -> _Pointer[_Ctx]:
        if self._ctx is None:
            raise InvalidArgumentError(Status.INVAL, "the context is closed")
        return self._ctx

    def _error(self, status: int) -> Error:
        """The exception for a status just returned on this context."""
        return error(status, text(lib.tlspol_ctx_errmsg(self._ctx)))

    def _call(self, fn: Callable[..., int], *args: Any) -> None:
        with self._lock:
            status = fn(self._ptr(), *args)
            if status:
                raise self._error(status)
