"""Verify HTI launch tokens and produce Koppeltaal 2.0 tokens, through the C ABI of koppeltaal-rs.

The shared library ``libkoppeltaal_ffi`` is found through the ``KOPPELTAAL_LIB`` environment
variable, else next to this package in a koppeltaal-rs checkout (``target/release``, then
``target/debug``), else on the system's library path.

    >>> verifier = Verifier(jwks, issuer="https://portal.example.org", audience="Device/42")
    >>> claims = verifier.verify(token)          # a dict, or KoppeltaalError
"""

import ctypes
import ctypes.util
import json
import os
import pathlib
import sys
import time

__all__ = [
    "KoppeltaalError",
    "Verifier",
    "client_assertion",
    "generate_key",
    "jwks_from_pem",
    "launch_token",
    "status_message",
]

OK = 0
BUFFER_TOO_SMALL = 800


def _library_path():
    configured = os.environ.get("KOPPELTAAL_LIB")
    if configured:
        return configured
    suffix = {"darwin": ".dylib", "win32": ".dll"}.get(sys.platform, ".so")
    prefix = "" if sys.platform == "win32" else "lib"
    checkout = pathlib.Path(__file__).resolve().parents[4]
    for profile in ("release", "debug"):
        candidate = checkout / "target" / profile / f"{prefix}koppeltaal_ffi{suffix}"
        if candidate.exists():
            return str(candidate)
    found = ctypes.util.find_library("koppeltaal_ffi")
    if found:
        return found
    raise OSError("libkoppeltaal_ffi not found: build it (cargo build --release -p koppeltaal-ffi) or set KOPPELTAAL_LIB")


_lib = ctypes.CDLL(_library_path())

_u8p = ctypes.POINTER(ctypes.c_uint8)
_sizep = ctypes.POINTER(ctypes.c_size_t)


def _declare(name, *argtypes, restype=ctypes.c_int32):
    function = getattr(_lib, name)
    function.argtypes = argtypes
    function.restype = restype
    return function


_status_message = _declare("koppeltaal_status_message", ctypes.c_int32, restype=ctypes.c_char_p)
_verifier_new = _declare(
    "koppeltaal_verifier_new", _u8p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint32,
    ctypes.POINTER(ctypes.c_void_p),
)
_verifier_free = _declare("koppeltaal_verifier_free", ctypes.c_void_p, restype=None)
_add_issuer = _declare("koppeltaal_verifier_add_issuer", ctypes.c_void_p, ctypes.c_char_p, _u8p, ctypes.c_size_t)
_allow_algorithm = _declare("koppeltaal_verifier_allow_algorithm", ctypes.c_void_p, ctypes.c_char_p)
_set_leeway = _declare("koppeltaal_verifier_set_leeway", ctypes.c_void_p, ctypes.c_uint64)
_set_max_lifetime = _declare("koppeltaal_verifier_set_max_lifetime", ctypes.c_void_p, ctypes.c_uint64)
_use_redis = _declare("koppeltaal_verifier_use_redis", ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p)
_add_decryption_key = _declare("koppeltaal_verifier_add_decryption_key", ctypes.c_void_p, ctypes.c_char_p)
_encrypt_launch = _declare(
    "koppeltaal_encrypt_launch", *([ctypes.c_char_p] * 4), _u8p, ctypes.c_size_t, _sizep,
)
_verify = _declare(
    "koppeltaal_verify", ctypes.c_void_p, _u8p, ctypes.c_size_t, ctypes.c_uint64, _u8p, ctypes.c_size_t, _sizep,
)
_generate_key = _declare("koppeltaal_generate_key", ctypes.c_char_p, ctypes.c_uint32, _u8p, ctypes.c_size_t, _sizep)
_jwks_from_pem = _declare("koppeltaal_jwks_from_pem", ctypes.c_char_p, _u8p, ctypes.c_size_t, _sizep)
_client_assertion = _declare(
    "koppeltaal_client_assertion", ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint64, _u8p,
    ctypes.c_size_t, _sizep,
)
_launch_token = _declare(
    "koppeltaal_launch_token", *([ctypes.c_char_p] * 8), ctypes.c_uint64, ctypes.c_uint64, _u8p, ctypes.c_size_t,
    _sizep,
)


def status_message(code):
    """The library's description of a status code."""
    return _status_message(code).decode("utf-8")


class KoppeltaalError(Exception):
    """A refusal or failure: ``code`` is the stable status code, ``message`` its description."""

    def __init__(self, code):
        self.code = code
        self.message = status_message(code)
        super().__init__(f"{self.message} (code {code})")


def _check(status):
    if status != OK:
        raise KoppeltaalError(status)


def _text(value):
    """A str (or bytes, passed through unchanged) as a C string; None stays NULL."""
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _bytes(value):
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    if isinstance(value, str):
        value = value.encode("utf-8")
    return value


def _in(data):
    return ctypes.cast(ctypes.c_char_p(data), _u8p), len(data)


def _output(call, capacity=4096):
    """Calls ``call(buffer, capacity, length)``, growing the buffer once if it is too small."""
    for _ in range(2):
        buffer = (ctypes.c_uint8 * capacity)()
        length = ctypes.c_size_t(0)
        status = call(buffer, capacity, ctypes.byref(length))
        if status == BUFFER_TOO_SMALL and length.value > capacity:
            capacity = length.value
            continue
        _check(status)
        return bytes(buffer[: length.value])
    raise KoppeltaalError(BUFFER_TOO_SMALL)


def _now(now):
    return 0 if now is None else int(now)


class Verifier:
    """Verifies HTI launch tokens from trusted issuers for one audience, and remembers each
    accepted launch so that it is accepted only once.

    ``jwks`` is the issuer's JWKS document (str, bytes or dict). Safe to share between threads.
    """

    def __init__(self, jwks, issuer, audience, replay_capacity=1024):
        handle = ctypes.c_void_p()
        data, length = _in(_bytes(jwks))
        _check(_verifier_new(data, length, _text(issuer), _text(audience), replay_capacity, ctypes.byref(handle)))
        self._handle = handle

    def close(self):
        """Frees the verifier (also done when it is garbage-collected)."""
        if getattr(self, "_handle", None):
            _verifier_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()

    def __del__(self):
        self.close()

    def _live(self):
        if not self._handle:
            raise ValueError("the verifier has been closed")
        return self._handle

    def add_issuer(self, issuer, jwks):
        """Trusts one more issuer with the keys of its JWKS document."""
        data, length = _in(_bytes(jwks))
        _check(_add_issuer(self._live(), _text(issuer), data, length))

    def allow_algorithm(self, algorithm):
        """Accepts one more algorithm ("ES256", ...); RS512 always is."""
        _check(_allow_algorithm(self._live(), _text(algorithm)))

    def set_leeway(self, seconds):
        """Sets the clock leeway in seconds (default 60)."""
        _check(_set_leeway(self._live(), int(seconds)))

    def set_max_lifetime(self, seconds):
        """Sets the maximum lifetime exp - iat in seconds (default 300)."""
        _check(_set_max_lifetime(self._live(), int(seconds)))

    def use_redis(self, url, prefix=None):
        """Remembers accepted launches in Redis, shared with other processes."""
        _check(_use_redis(self._live(), _text(url), _text(prefix)))

    def add_decryption_key(self, pem):
        """Decrypts encrypted launches (HTI:jwe) with this RSA private key (PEM); repeatable.
        What decrypts is verified exactly as a plain launch; every decryption failure is code 410."""
        _check(_add_decryption_key(self._live(), _text(pem)))

    def verify(self, token, now=None):
        """Verifies ``token`` at ``now`` (Unix seconds; default the system clock) and returns its
        claims as a dict; raises KoppeltaalError (with the stable code) when it is refused."""
        data, length = _in(_bytes(token))
        handle = self._live()
        claims = _output(lambda buffer, capacity, out: _verify(handle, data, length, _now(now), buffer, capacity, out), 2048)
        return json.loads(claims)


def generate_key(algorithm="RS512", rsa_bits=2048):
    """A new private key as PKCS#8 PEM."""
    return _output(lambda buffer, capacity, out: _generate_key(_text(algorithm), rsa_bits, buffer, capacity, out)).decode()


def jwks_from_pem(pem):
    """The public JWKS (thumbprint kid) of a PEM private key, as a str."""
    return _output(lambda buffer, capacity, out: _jwks_from_pem(_text(pem), buffer, capacity, out)).decode()


def client_assertion(pem, client_id, token_endpoint, now=None):
    """A SMART Backend Services client assertion signed with ``pem``."""
    return _output(
        lambda buffer, capacity, out: _client_assertion(
            _text(pem), _text(client_id), _text(token_endpoint), _now(now), buffer, capacity, out
        )
    ).decode()


def launch_token(pem, issuer, audience, subject, resource, definition, patient=None, intent=None, now=None, lifetime=300):
    """An HTI launch token signed with ``pem``."""
    fields = [_text(value) for value in (pem, issuer, audience, subject, resource, definition, patient, intent)]
    return _output(
        lambda buffer, capacity, out: _launch_token(*fields, _now(now), lifetime, buffer, capacity, out)
    ).decode()


def encrypt_launch(signed, recipient, key_algorithm=None, content_encryption=None):
    """Encrypts a signed launch to a module (HTI:jwe), as a portal does. ``recipient`` is the
    module's JWKS (its ``use: enc`` key) or a PEM public key; ``key_algorithm`` "RSA-OAEP" or
    "RSA-OAEP-256" (default: the JWK's alg, else RSA-OAEP-256); ``content_encryption`` e.g.
    "A128CBC-HS256" (default "A256GCM")."""
    fields = [_text(value) for value in (signed, _bytes(recipient), key_algorithm, content_encryption)]
    return _output(lambda buffer, capacity, out: _encrypt_launch(*fields, buffer, capacity, out), 8192).decode()


def unix_time():
    """The current Unix time in seconds."""
    return int(time.time())
