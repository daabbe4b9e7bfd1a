"""Finds ``libkoppeltaal_ffi`` and declares the C functions' prototypes (private).

Where the library comes from, first match wins:

1. the ``KOPPELTAAL_LIB`` environment variable (a path), for a library built elsewhere;
2. next to this module, where the wheel built by ``pip install`` puts it;
3. a koppeltaal-rs checkout this package sits in (``target/release``, then ``target/debug``),
   for working on the package from source;
4. the system's library path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pathlib
import sys
from typing import Any, Optional

LIBRARY_FILE = {"darwin": "libkoppeltaal_ffi.dylib", "win32": "koppeltaal_ffi.dll"}.get(
    sys.platform, "libkoppeltaal_ffi.so"
)


def _checkout_library() -> Optional[pathlib.Path]:
    here = pathlib.Path(__file__).resolve()
    if len(here.parents) < 5:
        return None
    checkout = here.parents[4]
    for profile in ("release", "debug"):
        candidate = checkout / "target" / profile / LIBRARY_FILE
        if candidate.is_file():
            return candidate
    return None


def library_path() -> str:
    """The path of the shared library this package loads (see the module's documentation)."""
    configured = os.environ.get("KOPPELTAAL_LIB")
    if configured:
        return configured
    packaged = pathlib.Path(__file__).resolve().parent / LIBRARY_FILE
    if packaged.is_file():
        return str(packaged)
    checkout = _checkout_library()
    if checkout is not None:
        return str(checkout)
    found = ctypes.util.find_library("koppeltaal_ffi")
    if found:
        return found
    raise ImportError(
        "libkoppeltaal_ffi not found: install the package with `pip install ./adapters/ffi/python` "
        "(which builds it), or build it with `cargo build --release -p koppeltaal-ffi`, or set KOPPELTAAL_LIB"
    )


LIBRARY_PATH = library_path()
lib = ctypes.CDLL(LIBRARY_PATH)

u8p = ctypes.POINTER(ctypes.c_uint8)
sizep = ctypes.POINTER(ctypes.c_size_t)
handle = ctypes.c_void_p
text = ctypes.c_char_p


def _declare(name: str, *argtypes: Any, restype: Any = ctypes.c_int32) -> Any:
    function = getattr(lib, name)
    function.argtypes = argtypes
    function.restype = restype
    return function


status_message = _declare("koppeltaal_status_message", ctypes.c_int32, restype=text)
status_name = _declare("koppeltaal_status_name", ctypes.c_int32, restype=text)
verifier_new = _declare(
    "koppeltaal_verifier_new", u8p, ctypes.c_size_t, text, text, ctypes.c_uint32, ctypes.POINTER(handle)
)
verifier_free = _declare("koppeltaal_verifier_free", handle, restype=None)
add_issuer = _declare("koppeltaal_verifier_add_issuer", handle, text, u8p, ctypes.c_size_t)
allow_algorithm = _declare("koppeltaal_verifier_allow_algorithm", handle, text)
set_leeway = _declare("koppeltaal_verifier_set_leeway", handle, ctypes.c_uint64)
set_max_lifetime = _declare("koppeltaal_verifier_set_max_lifetime", handle, ctypes.c_uint64)
use_redis = _declare("koppeltaal_verifier_use_redis", handle, text, text)


class RedisOptions(ctypes.Structure):
    """``koppeltaal_redis_options`` of the C header, member for member."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("min_replicas", ctypes.c_uint32),
        ("replica_timeout_ms", ctypes.c_uint32),
        ("check_now", ctypes.c_uint32),
        ("prefix", text),
        ("ca_file", text),
        ("cert_file", text),
        ("key_file", text),
        ("password_file", text),
    ]


use_redis_with = _declare(
    "koppeltaal_verifier_use_redis_with", handle, text, ctypes.POINTER(RedisOptions), u8p, ctypes.c_size_t, sizep
)
add_decryption_key = _declare("koppeltaal_verifier_add_decryption_key", handle, text)
verify = _declare("koppeltaal_verify", handle, u8p, ctypes.c_size_t, ctypes.c_uint64, u8p, ctypes.c_size_t, sizep)
generate_key = _declare("koppeltaal_generate_key", text, ctypes.c_uint32, u8p, ctypes.c_size_t, sizep)
jwks_from_pem = _declare("koppeltaal_jwks_from_pem", text, u8p, ctypes.c_size_t, sizep)
client_assertion = _declare(
    "koppeltaal_client_assertion", text, text, text, ctypes.c_uint64, u8p, ctypes.c_size_t, sizep
)
encrypt_launch = _declare("koppeltaal_encrypt_launch", text, text, text, text, u8p, ctypes.c_size_t, sizep)
launch_token = _declare(
    "koppeltaal_launch_token", *([text] * 8), ctypes.c_uint64, ctypes.c_uint64, u8p, ctypes.c_size_t, sizep
)
