"""Verify HTI launch tokens and produce Koppeltaal 2.0 tokens, over the C ABI of koppeltaal-rs.

``pip install ./adapters/ffi/python`` (from a koppeltaal-rs checkout) builds the shared library
with cargo and installs it inside this package; nothing else needs configuring.

>>> import koppeltaal
>>> pem = koppeltaal.generate_key("RS512")
>>> verifier = koppeltaal.Verifier(koppeltaal.jwks_from_pem(pem),
...                                issuer="https://portal.example.org", audience="Device/42")
>>> token = koppeltaal.launch_token(pem, "https://portal.example.org", "Device/42", "Patient/1",
...                                 "Task/11", "https://module.example.org/ActivityDefinition/1")
>>> verifier.verify(token)["resource"]
'Task/11'
>>> try:
...     verifier.verify(token)
... except koppeltaal.KoppeltaalError as refusal:
...     print(refusal.code, refusal.name)
600 Replayed
"""

from __future__ import annotations

import ctypes
import json
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypedDict, Union

from . import _native
from ._native import LIBRARY_PATH

__all__ = [
    "LIBRARY_PATH",
    "KoppeltaalError",
    "LaunchClaims",
    "Verifier",
    "client_assertion",
    "encrypt_launch",
    "generate_key",
    "jwks_from_pem",
    "launch_token",
    "status_message",
    "status_name",
    "unix_time",
]

__version__ = "0.1.0"

OK = 0
BUFFER_TOO_SMALL = 800

#: A JSON document given as text, bytes, or already parsed.
Json = Union[str, bytes, Dict[str, Any], List[Any]]
#: A text argument; bytes are passed through unchanged (and must be UTF-8 to be accepted).
Text = Union[str, bytes]


class _RequiredClaims(TypedDict):
    iss: str
    aud: str
    sub: str
    iat: int
    exp: int
    jti: str
    resource: str
    definition: str


class LaunchClaims(_RequiredClaims, total=False):
    """The claims of a verified launch, as :meth:`Verifier.verify` returns them."""

    patient: str
    intent: str
    idp_hint: str


def status_message(code: int) -> str:
    """The library's one-line description of a status code (``"unknown status"`` for none).

    >>> status_message(600)
    'token has been used before'
    """
    message: bytes = _native.status_message(code)
    return message.decode("utf-8")


def status_name(code: int) -> str:
    """The stable name of a status code (``"Unknown"`` for none).

    >>> status_name(913)
    'ReplayStoreUnavailable'
    """
    name: bytes = _native.status_name(code)
    return name.decode("utf-8")


class KoppeltaalError(Exception):
    """A refusal or failure.

    ``code`` is the stable status code (600: the launch was used before), ``name`` its stable
    name (``"Replayed"``), ``message`` its description. The codes are those of the C header and
    of every other koppeltaal-rs adapter.
    """

    code: int
    name: str
    message: str
    detail: Optional[str]

    def __init__(self, code: int, detail: Optional[str] = None) -> None:
        self.code = code
        self.name = status_name(code)
        self.message = status_message(code)
        #: What exactly went wrong, when the call says (``use_redis`` with options).
        self.detail = detail
        suffix = f": {detail}" if detail else ""
        super().__init__(f"{self.name} ({code}): {self.message}{suffix}")


def _check(status: int) -> None:
    if status != OK:
        raise KoppeltaalError(status)


def _text(value: Optional[Text]) -> Optional[bytes]:
    """A str (or bytes, passed through unchanged) as a C string; None stays NULL."""
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _json(value: Json) -> bytes:
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        raise TypeError(f"expected a JSON document as str, bytes, dict or list, not {type(value).__name__}")
    return value


def _in(data: bytes) -> Tuple[Any, int]:
    return ctypes.cast(ctypes.c_char_p(data), _native.u8p), len(data)


def _output(call: Callable[[Any, int, Any], int], capacity: int = 4096) -> bytes:
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


def _now(now: Optional[int]) -> int:
    return 0 if now is None else int(now)


class Verifier:
    """Verifies HTI launch tokens from trusted issuers for one audience, and remembers each
    accepted launch so that it is accepted only once.

    ``jwks`` is the issuer's JWKS document. ``algorithms`` are accepted besides RS512 (e.g.
    ``["ES256"]``); ``leeway`` is the clock leeway in seconds (default 60); ``max_lifetime``
    the longest ``exp - iat`` accepted (default 300); ``replay_capacity`` how many unexpired
    launches the in-memory replay store holds (see :meth:`use_redis` to share it).

    One verifier may be used from any number of threads. Use it as a context manager, or call
    :meth:`close`, to free it promptly.
    """

    def __init__(
        self,
        jwks: Json,
        issuer: Text,
        audience: Text,
        *,
        algorithms: Iterable[str] = (),
        leeway: Optional[int] = None,
        max_lifetime: Optional[int] = None,
        replay_capacity: int = 1024,
    ) -> None:
        self._handle: Optional[ctypes.c_void_p] = None
        handle = ctypes.c_void_p()
        data, length = _in(_json(jwks))
        _check(_native.verifier_new(data, length, _text(issuer), _text(audience), replay_capacity, ctypes.byref(handle)))
        self._handle = handle
        for algorithm in algorithms:
            self.allow_algorithm(algorithm)
        if leeway is not None:
            self.set_leeway(leeway)
        if max_lifetime is not None:
            self.set_max_lifetime(max_lifetime)

    def close(self) -> None:
        """Frees the verifier (also done when it is garbage-collected). Idempotent."""
        if getattr(self, "_handle", None):
            _native.verifier_free(self._handle)
            self._handle = None

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _live(self) -> ctypes.c_void_p:
        if not self._handle:
            raise ValueError("the verifier has been closed")
        return self._handle

    def add_issuer(self, issuer: Text, jwks: Json) -> None:
        """Trusts one more issuer with the keys of its JWKS document."""
        data, length = _in(_json(jwks))
        _check(_native.add_issuer(self._live(), _text(issuer), data, length))

    def allow_algorithm(self, algorithm: Text) -> None:
        """Accepts one more algorithm ("ES256", "PS512", ...); RS512 always is. ``none`` and
        HMAC cannot be named (code 300)."""
        _check(_native.allow_algorithm(self._live(), _text(algorithm)))

    def set_leeway(self, seconds: int) -> None:
        """Sets the clock leeway in seconds (default 60)."""
        _check(_native.set_leeway(self._live(), int(seconds)))

    def set_max_lifetime(self, seconds: int) -> None:
        """Sets the maximum lifetime ``exp - iat`` in seconds (default 300)."""
        _check(_native.set_max_lifetime(self._live(), int(seconds)))

    def use_redis(
        self,
        url: Text,
        prefix: Optional[Text] = None,
        *,
        ca_file: Optional[Text] = None,
        cert_file: Optional[Text] = None,
        key_file: Optional[Text] = None,
        password_file: Optional[Text] = None,
        min_replicas: int = 0,
        replica_timeout_ms: int = 0,
        check_now: bool = False,
    ) -> None:
        """Remembers accepted launches in Redis, shared with other processes; before the first
        verification only. ``url``: ``redis://[user:password@]host:port[/db]``, ``rediss://``
        (TLS), ``redis+sentinel://s1:26379,s2:26379/MASTER[/db]`` or
        ``redis+cluster://n1:7000,n2:7001`` (``rediss+...`` likewise). ``ca_file`` trusts a
        private CA, ``cert_file``/``key_file`` present a client certificate, ``password_file``
        holds the password (first line); ``min_replicas`` accepts a launch only once that many
        replicas acknowledged it (``replica_timeout_ms``, 0: 500). ``check_now`` connects at
        once, raising :class:`KoppeltaalError` (913, with ``detail``) for a wrong CA, password
        or server. When Redis is unreachable later, launches are refused with code 913."""
        options = _native.RedisOptions(
            struct_size=ctypes.sizeof(_native.RedisOptions),
            min_replicas=int(min_replicas),
            replica_timeout_ms=int(replica_timeout_ms),
            check_now=1 if check_now else 0,
            prefix=_text(prefix),
            ca_file=_text(ca_file),
            cert_file=_text(cert_file),
            key_file=_text(key_file),
            password_file=_text(password_file),
        )
        detail = (ctypes.c_uint8 * 1024)()
        detail_len = ctypes.c_size_t(0)
        status = _native.use_redis_with(
            self._live(), _text(url), ctypes.byref(options), detail, len(detail), ctypes.byref(detail_len)
        )
        if status != OK:
            shown = bytes(detail[: detail_len.value]).decode("utf-8", "replace") or None
            raise KoppeltaalError(status, shown)

    def add_decryption_key(self, pem: Text) -> None:
        """Decrypts encrypted launches (HTI:jwe) with this RSA private key (PEM); repeatable.
        What decrypts is verified exactly as a plain launch; every decryption failure is code 410."""
        _check(_native.add_decryption_key(self._live(), _text(pem)))

    def verify(self, token: Text, now: Optional[int] = None) -> LaunchClaims:
        """Verifies ``token`` at ``now`` (Unix seconds; default the system clock), records it as
        used, and returns its claims; raises :class:`KoppeltaalError` when it is refused."""
        data, length = _in(_text(token) or b"")
        handle = self._live()
        claims = _output(lambda buffer, capacity, out: _native.verify(handle, data, length, _now(now), buffer, capacity, out), 2048)
        parsed: LaunchClaims = json.loads(claims)
        return parsed


def generate_key(algorithm: str = "RS512", rsa_bits: int = 2048) -> str:
    """A new private key for ``algorithm`` ("RS512", "ES256", ...) as PKCS#8 PEM; RSA keys have
    ``rsa_bits`` (2048, 3072 or 4096)."""
    return _output(lambda buffer, capacity, out: _native.generate_key(_text(algorithm), rsa_bits, buffer, capacity, out)).decode()


def jwks_from_pem(pem: Text) -> str:
    """The public JWKS (RFC 7638 thumbprint ``kid``) of a PEM private key, as JSON text."""
    return _output(lambda buffer, capacity, out: _native.jwks_from_pem(_text(pem), buffer, capacity, out)).decode()


def client_assertion(pem: Text, client_id: Text, token_endpoint: Text, now: Optional[int] = None) -> str:
    """A SMART Backend Services client assertion signed with ``pem``: ``iss`` and ``sub`` the
    client id, ``aud`` the token endpoint, valid two minutes, a random ``jti``."""
    return _output(
        lambda buffer, capacity, out: _native.client_assertion(
            _text(pem), _text(client_id), _text(token_endpoint), _now(now), buffer, capacity, out
        )
    ).decode()


def launch_token(
    pem: Text,
    issuer: Text,
    audience: Text,
    subject: Text,
    resource: Text,
    definition: Text,
    patient: Optional[Text] = None,
    intent: Optional[Text] = None,
    now: Optional[int] = None,
    lifetime: int = 300,
) -> str:
    """An HTI launch token signed with ``pem`` (the algorithm follows the key), as a portal
    makes one."""
    fields = [_text(value) for value in (pem, issuer, audience, subject, resource, definition, patient, intent)]
    return _output(
        lambda buffer, capacity, out: _native.launch_token(*fields, _now(now), lifetime, buffer, capacity, out)
    ).decode()


def encrypt_launch(
    signed: Text,
    recipient: Json,
    key_algorithm: Optional[str] = None,
    content_encryption: Optional[str] = None,
) -> str:
    """Encrypts a signed launch to a module (HTI:jwe), as a portal does. ``recipient`` is the
    module's JWKS (its ``use: enc`` key) or a PEM key; ``key_algorithm`` "RSA-OAEP" or
    "RSA-OAEP-256" (default: the JWK's alg, else RSA-OAEP-256); ``content_encryption`` e.g.
    "A128CBC-HS256" (default "A256GCM")."""
    fields = [_text(value) for value in (signed, _json(recipient), key_algorithm, content_encryption)]
    return _output(lambda buffer, capacity, out: _native.encrypt_launch(*fields, buffer, capacity, out), 8192).decode()


def unix_time() -> int:
    """The current Unix time in seconds."""
    return int(time.time())
