"""The exceptions: one base class, tlspol.Error, carrying the C status."""

from __future__ import annotations

from ._enums import Status
from ._native import lib, text


class Error(Exception):
    """A call into libtlspol failed.

    :attr:`status` is the C status (:class:`Status`) and :attr:`message`
    the library's detail (``tlspol_ctx_errmsg``), or the status text
    (``tlspol_strerror``) when there is none.
    """

    status: Status
    message: str

    def __init__(self, status: Status, message: str = "") -> None:
        self.status = status
        self.message = message or text(lib.tlspol_strerror(status))
        super().__init__(status, self.message)

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(Error, ValueError):
    """``TLSPOL_ERR_INVAL``: a bad domain, option value or certificate; also
    any use of a closed :class:`Context`."""


class CanceledError(Error):
    """``TLSPOL_ERR_CANCELED``: the lookup was canceled because its
    :class:`Context` was closed."""


class VerificationError(Error):
    """``TLSPOL_ERR_VERIFY``: the peer does not satisfy the policy;
    :attr:`message` says why."""


_CLASSES: dict[Status, type[Error]] = {
    Status.INVAL: InvalidArgumentError,
    Status.CANCELED: CanceledError,
    Status.VERIFY: VerificationError,
}


def error(status: int, message: str = "") -> Error:
    """The exception for a C status."""
    st = Status(status)
    return _CLASSES.get(st, Error)(st, message)
