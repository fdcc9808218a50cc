"""ctypes declarations of the public C API (include/tlspol/tlspol.h).

Nothing here is public.  Every function used is declared with its exact
argument and return types, so ctypes converts and checks each call; the
opaque handles get distinct pointer types so that passing one where
another is expected raises instead of crashing.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_int, c_int64,
                    c_size_t, c_uint, c_uint32, c_uint64, c_void_p)

SONAME = "libtlspol.so.0"


class _Ctx(Structure):
    """tlspol_ctx (opaque)."""


class _Result(Structure):
    """tlspol_result (opaque)."""


class _Query(Structure):
    """tlspol_query (opaque)."""


CtxP = POINTER(_Ctx)
ResultP = POINTER(_Result)
QueryP = POINTER(_Query)

# The C enums are int-sized; c_int carries every enum argument and result.
ResultCallback = CFUNCTYPE(None, c_int, ResultP, c_void_p)
LogCallback = CFUNCTYPE(None, c_int, c_char_p, c_char_p, c_void_p)

_S = c_char_p   # returned strings are borrowed: ctypes copies them to bytes
_R = ResultP
_PROTOTYPES: dict[str, tuple[object, list[object]]] = {
    "tlspol_version": (_S, []),
    "tlspol_strerror": (_S, [c_int]),
    "tlspol_verdict_name": (_S, [c_int]),
    "tlspol_source_name": (_S, [c_int]),
    "tlspol_dnssec_name": (_S, [c_int]),
    "tlspol_host_dane_name": (_S, [c_int]),
    "tlspol_sts_mode_name": (_S, [c_int]),
    "tlspol_ctx_new": (c_int, [POINTER(CtxP)]),
    "tlspol_ctx_free": (None, [CtxP]),
    "tlspol_ctx_set_resolvers": (c_int, [CtxP, c_char_p]),
    "tlspol_ctx_set_trust_anchor_file": (c_int, [CtxP, c_char_p]),
    "tlspol_ctx_set_ca_file": (c_int, [CtxP, c_char_p]),
    "tlspol_ctx_set_ca_path": (c_int, [CtxP, c_char_p]),
    "tlspol_ctx_set_cache_file": (c_int, [CtxP, c_char_p]),
    "tlspol_ctx_set_shared_store": (c_int, [CtxP, c_char_p]),
    "tlspol_ctx_purge": (c_int, [CtxP, c_char_p, POINTER(c_int)]),
    "tlspol_ctx_set_dnssec_mode": (c_int, [CtxP, c_int]),
    "tlspol_ctx_check_resolver": (c_int, [CtxP, c_char_p, POINTER(c_char_p)]),
    "tlspol_ctx_set_timeout": (c_int, [CtxP, c_uint]),
    "tlspol_ctx_load_config": (c_int, [CtxP, c_char_p]),
    "tlspol_ctx_config_log": (c_int, [CtxP, POINTER(c_int), POINTER(c_int)]),
    "tlspol_ctx_add_preload": (c_int, [CtxP, c_char_p]),
    "tlspol_ctx_set_postfix_compat": (c_int, [CtxP, c_uint]),
    "tlspol_ctx_export_preload": (_S, [CtxP]),
    "tlspol_ctx_stat": (c_uint64, [CtxP, c_int]),
    "tlspol_ctx_open": (c_int, [CtxP]),
    "tlspol_ctx_set_log_fn": (None, [CtxP, LogCallback, c_void_p, c_int]),
    "tlspol_ctx_errmsg": (_S, [CtxP]),
    "tlspol_ctx_get_fd": (c_int, [CtxP]),
    "tlspol_ctx_dispatch": (c_int, [CtxP]),
    "tlspol_ctx_pending": (c_size_t, [CtxP]),
    "tlspol_resolve": (c_int, [CtxP, c_char_p, ResultCallback, c_void_p,
                               POINTER(QueryP)]),
    "tlspol_query_cancel": (c_int, [QueryP]),
    "tlspol_resolve_sync": (c_int, [CtxP, c_char_p, POINTER(ResultP)]),
    "tlspol_resolve_cached": (c_int, [CtxP, c_char_p, POINTER(ResultP)]),
    "tlspol_result_free": (None, [_R]),
    "tlspol_result_verdict": (c_int, [_R]),
    "tlspol_result_tls_required": (c_int, [_R]),
    "tlspol_result_domain": (_S, [_R]),
    "tlspol_result_source": (c_int, [_R]),
    "tlspol_result_sts_mode": (c_int, [_R]),
    "tlspol_result_sts_id": (_S, [_R]),
    "tlspol_result_sts_max_age": (c_uint32, [_R]),
    "tlspol_result_expires": (c_int64, [_R]),
    "tlspol_result_mx_pattern_count": (c_size_t, [_R]),
    "tlspol_result_mx_pattern": (_S, [_R, c_size_t]),
    "tlspol_result_reason": (_S, [_R]),
    "tlspol_result_host_count": (c_size_t, [_R]),
    "tlspol_result_host_name": (_S, [_R, c_size_t]),
    "tlspol_result_host_preference": (c_uint, [_R, c_size_t]),
    "tlspol_result_host_sts_match": (c_int, [_R, c_size_t]),
    "tlspol_result_published_verdict": (c_int, [_R]),
    "tlspol_result_local_level": (_S, [_R]),
    "tlspol_result_override_weakens": (c_int, [_R]),
    "tlspol_result_failopen": (c_int, [_R]),
    "tlspol_result_postfix_policy": (_S, [_R, c_uint]),
    "tlspol_result_mx_dnssec": (c_int, [_R]),
    "tlspol_result_dane_available": (c_int, [_R]),
    "tlspol_result_host_dane": (c_int, [_R, c_size_t]),
    "tlspol_result_host_address_dnssec": (c_int, [_R, c_size_t]),
    "tlspol_result_host_tlsa_dnssec": (c_int, [_R, c_size_t]),
    "tlspol_result_host_tlsa_name": (_S, [_R, c_size_t]),
    "tlspol_result_host_tlsa_count": (c_size_t, [_R, c_size_t]),
    "tlspol_result_host_tlsa": (_S, [_R, c_size_t, c_size_t]),
    "tlspol_result_host_address_count": (c_size_t, [_R, c_size_t]),
    "tlspol_result_host_address": (_S, [_R, c_size_t, c_size_t]),
    "tlspol_result_host_tlsa_base": (_S, [_R, c_size_t]),
    "tlspol_result_host_note": (_S, [_R, c_size_t]),
    "tlspol_result_trace_count": (c_size_t, [_R]),
    "tlspol_result_trace": (_S, [_R, c_size_t]),
    "tlspol_result_json": (_S, [_R]),
    "tlspol_verify_chain": (c_int, [CtxP, _R, c_char_p, POINTER(c_char_p),
                                    POINTER(c_size_t), c_size_t,
                                    POINTER(c_char_p)]),
}


def _load() -> ctypes.CDLL:
    """Load $TLSPOL_LIBRARY if set, else the soname through the loader."""
    path = os.environ.get("TLSPOL_LIBRARY") or SONAME
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(
            f"tlspol: cannot load {path} ({e}); install libtlspol or set "
            "TLSPOL_LIBRARY to the path of libtlspol.so.0") from e
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = _load()


def text(b: bytes) -> str:
    """Decode a string from the library (UTF-8; bad bytes escaped)."""
    return b.decode("utf-8", "backslashreplace")
