"""tlspol: outbound SMTP TLS policy (MTA-STS, DANE, preload lists) for a
mail domain, through libtlspol.

>>> import tlspol
>>> with tlspol.Context(timeout=10) as ctx:
...     result = ctx.resolve("example.com")
...     print(result.verdict, result.tls, result.reason)

See README.md for asyncio use, peer verification and the options.
"""

from ._context import Context, LogFunction
from ._enums import (DNSSEC, HostDane, LogLevel, Source, Stat, Status,
                     StsMode, Verdict)
from ._errors import (CanceledError, Error, InvalidArgumentError,
                      VerificationError)
from ._native import lib as _lib
from ._native import text as _text
from ._result import TLS, MXHost, Result

__version__ = "0.1.0"

__all__ = [
    "CanceledError", "Context", "DNSSEC", "Error", "HostDane",
    "InvalidArgumentError", "LogFunction", "LogLevel", "MXHost", "Result",
    "Source", "Stat", "Status", "StsMode", "TLS", "Verdict",
    "VerificationError", "library_version",
]

# Public classes show (and pickle) as tlspol.X, not tlspol._module.X.
for _cls in (CanceledError, Context, DNSSEC, Error, HostDane,
             InvalidArgumentError, LogLevel, MXHost, Result, Source, Stat,
             Status, StsMode, Verdict, VerificationError):
    _cls.__module__ = __name__


def library_version() -> str:
    """Version of the loaded libtlspol, e.g. "0.1.0"."""
    return _text(_lib.tlspol_version())
