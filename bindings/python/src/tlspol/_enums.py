"""Enums mirroring the C enums.

The values are the C values (append-only in the C API).  Where the
library has a name function, each member is named after the library's
name for its value (upper case, "-" as "_"), str() gives that name, and
the import fails if the library disagrees, so the two cannot drift.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Callable

from ._native import lib


class _CEnum(IntEnum):
    """A C enum: the C value, and str() is the name (not the number)."""

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class _Named(_CEnum):
    """A C enum whose str() is the library's lower-case name."""

    def __str__(self) -> str:
        return self.name.lower().replace("_", "-")


class Verdict(_CEnum):
    """The verdict, ordered from "defer" to the strongest requirement.

    Compare with ``<`` and ``>=``: ``verdict >= Verdict.ENCRYPT`` holds
    for every verdict from ENCRYPT up (LOCAL depends on its level; use
    :attr:`Result.tls`).
    """

    TEMPFAIL = 0         #: a security-relevant lookup failed: defer
    NO_POLICY = 1        #: nothing committed: opportunistic TLS
    STS_TESTING = 2      #: MTA-STS testing: opportunistic TLS
    PRELOAD_TESTING = 3  #: preload list testing: opportunistic TLS
    ENCRYPT = 4          #: TLSA present, none usable: TLS, unauthenticated
    DANE = 5             #: some MX hosts have DANE
    DANE_ONLY = 6        #: every MX host has DANE
    PRELOAD_ENFORCE = 7  #: preload list enforce: PKIX and names
    STS_ENFORCE = 8      #: MTA-STS enforce: PKIX and names
    LOCAL = 9            #: operator override


class Source(_Named):
    """Where the deciding policy came from."""

    NONE = 0
    MTA_STS = 1
    DANE = 2
    PRELOAD = 3
    LOCAL = 4
    MTA_STS_CACHE = 5


class StsMode(_Named):
    """MTA-STS mode of the valid policy (ABSENT: there is none)."""

    ABSENT = 0
    NONE = 1
    TESTING = 2
    ENFORCE = 3


class DNSSEC(_Named):
    """DNSSEC state of an answer (RFC 4035 section 4.3)."""

    UNVALIDATED = 0
    SECURE = 1
    INSECURE = 2
    BOGUS = 3
    INDETERMINATE = 4


class HostDane(_Named):
    """What the DANE lookups found for one MX host."""

    NONE = 0        #: no DANE (insecure, or no TLSA records)
    NO_ADDRESS = 1  #: the host has no address
    FAILED = 2      #: a lookup failed: never use the host without DANE
    UNUSABLE = 3    #: TLSA records present, none usable
    USABLE = 4      #: usable TLSA records


class Status(_CEnum):
    """C API status codes (``tlspol_status``); carried by :class:`Error`."""

    OK = 0
    INVAL = 1
    NOMEM = 2
    BUSY = 3
    INTERNAL = 4
    DNS = 5
    IO = 6
    CANCELED = 7
    DNSSEC = 8
    VERIFY = 9


class LogLevel(_CEnum):
    """Log levels of the ``log`` callback."""

    ERROR = 0
    WARN = 1
    INFO = 2
    DEBUG = 3


class Stat(_CEnum):
    """Counters of :meth:`Context.stat`."""

    LOOKUPS = 0           #: lookups completed
    FAILOPEN = 1          #: failure policy delivered opportunistically
    OVERRIDE_WEAKENS = 2  #: a local override weakened a published policy
    CACHE_HITS = 3        #: queries answered from the verdict cache
    REFRESHES = 4         #: proactive policy refreshes
    REFRESH_FAILURES = 5  #: refreshes whose fetch failed
    EVICTIONS = 6         #: cached policies dropped as unused
    SHARED_HITS = 7       #: policies taken from the shared store
    SHARED_ERRORS = 8     #: shared-store failures (connects, timeouts, ...)
    SHARED_UP = 9         #: a gauge: 1 while the shared store answers


def _check(enum: type[IntEnum], name_of: Callable[[int], bytes]) -> None:
    """Fail the import if the library names a member differently."""
    for member in enum:
        want = str(member)
        got = name_of(member).decode()
        if got != want:
            raise ImportError(f"tlspol: {enum.__name__}.{member.name} is "
                              f"{got!r} in libtlspol, expected {want!r}")


_check(Verdict, lib.tlspol_verdict_name)
_check(Source, lib.tlspol_source_name)
_check(StsMode, lib.tlspol_sts_mode_name)
_check(DNSSEC, lib.tlspol_dnssec_name)
_check(HostDane, lib.tlspol_host_dane_name)
for _status in Status:
    if lib.tlspol_strerror(_status) == b"unknown status":
        raise ImportError(f"tlspol: libtlspol does not know {_status!r}")
