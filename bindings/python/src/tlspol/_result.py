"""Result: the outcome of one resolution, and MXHost, one MX host of it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import IntEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._enums import DNSSEC, HostDane, Source, Status, StsMode, Verdict
from ._errors import InvalidArgumentError
from ._native import lib, text

if TYPE_CHECKING:
    from ctypes import _Pointer

    from ._native import _Result

TLS = Literal["must", "may", "defer"]
_TLS: dict[int, TLS] = {1: "must", 0: "may", -1: "defer"}
_E = TypeVar("_E", bound=IntEnum)


def _members(enum: type[_E]) -> dict[int, _E]:
    """value -> member; a dict look-up is 20 times faster than enum(v)."""
    return {m.value: m for m in enum}


_VERDICT = _members(Verdict)
_SOURCE = _members(Source)
_STS_MODE = _members(StsMode)
_DNSSEC = _members(DNSSEC)
_HOST_DANE = _members(HostDane)
# The getters that build a string into the result; rare and quick.
_build_lock = threading.Lock()


@dataclass(frozen=True)
class MXHost:
    """One MX host of a :class:`Result`, in MX preference order."""

    name: str
    #: MX preference; 0 for the implicit MX of a domain without MX records
    preference: int
    #: whether the host matches an MTA-STS mx pattern; None without a policy
    sts_match: bool | None
    dane: HostDane
    address_dnssec: DNSSEC
    #: A and AAAA addresses (empty when not looked up)
    addresses: tuple[str, ...]
    #: name of the last TLSA query; None when no TLSA was looked up
    tlsa_name: str | None
    #: TLSA base domain, which a DANE client sends as SNI (RFC 7672 8.1)
    tlsa_base: str | None
    tlsa_dnssec: DNSSEC
    #: usable TLSA records as text, "3 1 1 <hex>"
    tlsa: tuple[str, ...]
    #: one line on the host's DANE state
    note: str


def _opt(b: bytes | None) -> str | None:
    return None if b is None else text(b)


class Result:
    """The TLS policy of one destination domain.

    A snapshot: it owns its C result and stays valid after the
    :class:`Context` that produced it is closed.  Not created directly;
    see :meth:`Context.resolve`.
    """

    def __init__(self, handle: _Pointer[_Result]) -> None:
        self._handle = handle

    def __del__(self, _free: Any = lib.tlspol_result_free) -> None:
        _free(self._handle)

    def __repr__(self) -> str:
        return f"<tlspol.Result {self.domain} {self.verdict}: {self.reason}>"

    def __copy__(self) -> Result:
        return self  # immutable; a copy would free the C result twice

    def __deepcopy__(self, memo: object) -> Result:
        return self

    @property
    def domain(self) -> str:
        """The normalised domain (lower-case A-label)."""
        return text(lib.tlspol_result_domain(self._handle))

    @property
    def verdict(self) -> Verdict:
        """The verdict."""
        return _VERDICT[lib.tlspol_result_verdict(self._handle)]

    @property
    def published_verdict(self) -> Verdict:
        """The verdict before a local override (equal to :attr:`verdict`
        unless that is LOCAL)."""
        return _VERDICT[lib.tlspol_result_published_verdict(self._handle)]

    @property
    def tls(self) -> TLS:
        """The TLS requirement: "must", "may" (opportunistic) or "defer"
        (TEMPFAIL: do not deliver now)."""
        return _TLS[lib.tlspol_result_tls_required(self._handle)]

    @property
    def source(self) -> Source:
        """Where the deciding policy came from."""
        return _SOURCE[lib.tlspol_result_source(self._handle)]

    @property
    def reason(self) -> str:
        """One line for a person on why this is the verdict."""
        return text(lib.tlspol_result_reason(self._handle))

    @property
    def sts_mode(self) -> StsMode:
        """MTA-STS mode of the valid policy (ABSENT: none)."""
        return _STS_MODE[lib.tlspol_result_sts_mode(self._handle)]

    @property
    def sts_id(self) -> str | None:
        """MTA-STS policy id from the TXT record; None without a policy."""
        return _opt(lib.tlspol_result_sts_id(self._handle))

    @property
    def sts_max_age(self) -> int:
        """MTA-STS max_age in seconds (clamped to 31557600); 0 if none."""
        return int(lib.tlspol_result_sts_max_age(self._handle))

    @property
    def expires(self) -> datetime | None:
        """When the MTA-STS policy expires (UTC); None without a policy."""
        t = lib.tlspol_result_expires(self._handle)
        return datetime.fromtimestamp(t, timezone.utc) if t else None

    @cached_property
    def mx_patterns(self) -> tuple[str, ...]:
        """MX patterns of the deciding policy ("*.example.net" ...)."""
        h = self._handle
        return tuple(text(lib.tlspol_result_mx_pattern(h, i))
                     for i in range(lib.tlspol_result_mx_pattern_count(h)))

    @property
    def mx_dnssec(self) -> DNSSEC:
        """DNSSEC state of the MX RRset (or of its absence)."""
        return _DNSSEC[lib.tlspol_result_mx_dnssec(self._handle)]

    @property
    def dane_available(self) -> bool:
        """False when DNSSEC was unusable, so DANE was not decided."""
        return bool(lib.tlspol_result_dane_available(self._handle))

    @property
    def local_level(self) -> str | None:
        """For LOCAL, the override's level ("may", "secure" ...)."""
        return _opt(lib.tlspol_result_local_level(self._handle))

    @property
    def override_weakens(self) -> bool:
        """True if a local override is weaker than the published policy."""
        return bool(lib.tlspol_result_override_weakens(self._handle))

    @property
    def failopen(self) -> bool:
        """True if the failure policy turned a TEMPFAIL into
        opportunistic delivery."""
        return bool(lib.tlspol_result_failopen(self._handle))

    @cached_property
    def hosts(self) -> tuple[MXHost, ...]:
        """The MX hosts with their MTA-STS and DANE detail."""
        n = lib.tlspol_result_host_count(self._handle)
        return tuple(self._host(i) for i in range(n))

    @cached_property
    def trace(self) -> tuple[str, ...]:
        """Every lookup made, its outcome, and the rule that decided."""
        h = self._handle
        return tuple(text(lib.tlspol_result_trace(h, i))
                     for i in range(lib.tlspol_result_trace_count(h)))

    def postfix_policy(self, compat: int | None = None) -> str:
        """The Postfix ``smtp_tls_policy_maps`` socketmap reply
        ("OK dane-only", "NOTFOUND ", "TEMP ...").

        :param compat: Postfix version as major*100+minor (310 adds the
            TLSRPT attributes); None: the context's ``postfix_compat``.
        """
        if compat is None:
            compat = 0
        elif isinstance(compat, bool) or not isinstance(compat, int):
            raise TypeError(f"compat must be an int, not "
                            f"{type(compat).__name__}")
        elif not 200 <= compat <= 999:
            raise InvalidArgumentError(Status.INVAL,
                                       f"compat {compat} is not in 200..999")
        with _build_lock:
            reply = lib.tlspol_result_postfix_policy(self._handle, compat)
        if reply is None:
            raise MemoryError("tlspol_result_postfix_policy")
        return text(reply)

    def to_dict(self) -> dict[str, Any]:
        """The whole result as the JSON object of ``tlspol-query --json``
        (keys documented in tlspol-query(1))."""
        with _build_lock:
            doc = lib.tlspol_result_json(self._handle)
        if doc is None:
            raise MemoryError("tlspol_result_json")
        obj: dict[str, Any] = json.loads(doc)
        return obj

    def _host(self, i: int) -> MXHost:
        h = self._handle
        match = lib.tlspol_result_host_sts_match(h, i)
        return MXHost(
            name=text(lib.tlspol_result_host_name(h, i)),
            preference=lib.tlspol_result_host_preference(h, i),
            sts_match=None if match < 0 else bool(match),
            dane=_HOST_DANE[lib.tlspol_result_host_dane(h, i)],
            address_dnssec=_DNSSEC[
                lib.tlspol_result_host_address_dnssec(h, i)],
            addresses=tuple(
                text(lib.tlspol_result_host_address(h, i, j))
                for j in range(lib.tlspol_result_host_address_count(h, i))),
            tlsa_name=_opt(lib.tlspol_result_host_tlsa_name(h, i)),
            tlsa_base=_opt(lib.tlspol_result_host_tlsa_base(h, i)),
            tlsa_dnssec=_DNSSEC[lib.tlspol_result_host_tlsa_dnssec(h, i)],
            tlsa=tuple(
                text(lib.tlspol_result_host_tlsa(h, i, j))
                for j in range(lib.tlspol_result_host_tlsa_count(h, i))),
            note=text(lib.tlspol_result_host_note(h, i)),
        )
