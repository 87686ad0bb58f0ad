"""The HTTP seam: our own small Request/Response types, a requests-backed transport and a mock.

The registry client only ever calls ``Transport.send``. Redirects are *not* followed here: the
client follows them itself, so that it alone decides when the Authorization header must be
dropped (a different host), identically under :class:`MockTransport` in unit tests and
:class:`RequestsTransport` for real. ``requests`` (and with it ssl and http.client) is imported
only when a RequestsTransport is constructed, keeping start-up of other commands cheap.

Transport failures (refused, DNS, TLS, timeouts, dropped connections) surface as
:class:`TransportError` with a ``kind``; the client turns them into typed pynerd errors.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from pynerd.errors import ConfigError

if TYPE_CHECKING:
    import requests

Body = bytes | Iterable[bytes] | IO[bytes] | None
DEFAULT_TIMEOUT = (15.0, 60.0)  # (connect, read) seconds


@dataclass(frozen=True)
class TLSConfig:
    """Per-host TLS: verify the server (and with which extra CAs), present a client cert."""

    verify: bool = True
    ca_files: tuple[str, ...] = ()
    client_cert: tuple[str, str] | None = None  # (cert, key); key "" = key inside cert file

    @property
    def is_default(self) -> bool:
        return self.verify and not self.ca_files and self.client_cert is None


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = None
    stream: bool = False
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT
    tls: TLSConfig | None = None
    # False for blobs: bytes are hashed as stored, never transparently gunzipped.
    decode_content: bool = True


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only header mapping."""

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._d: dict[str, tuple[str, str]] = {k.lower(): (k, v) for k, v in pairs}

    def __getitem__(self, key: str) -> str:
        return self._d[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._d.values())

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._d

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class Response:
    """Status, headers and a body read once, either whole (``read``) or in chunks."""

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes | Iterable[bytes] | Callable[[int], Iterator[bytes]] = b"",
        url: str = "",
        reason: str = "",
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.status = status
        self.headers = Headers(headers)
        self.url = url
        self.reason = reason or _REASONS.get(status, "")
        self._body = body
        self._on_close = on_close
        self._consumed = False
        self._closed = False

    def iter_content(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        if self._consumed:
            raise RuntimeError("response body already consumed")
        self._consumed = True
        body = self._body
        if isinstance(body, bytes):
            for i in range(0, len(body), chunk_size):
                yield body[i : i + chunk_size]
        elif callable(body):
            yield from body(chunk_size)
        else:
            yield from body

    def read(self, limit: int | None = None) -> bytes:
        """The whole body; with ``limit``, raise ValueError past that many bytes."""
        out = bytearray()
        try:
            for chunk in self.iter_content(1 << 16):
                out += chunk
                if limit is not None and len(out) > limit:
                    raise ValueError(f"response body larger than {limit} bytes")
        finally:
            self.close()
        return bytes(out)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._on_close is not None:
                self._on_close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.url}>"


class TransportError(Exception):
    """The request did not get an HTTP answer (or its body broke off).

    ``kind``: ``refused``, ``dns``, ``tls``, ``timeout``, ``dropped`` or ``other``; ``dropped``
    and ``timeout`` are worth retrying, the others mean the host is not usable this way.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Transport(Protocol):
    def send(self, request: Request) -> Response: ...


# --------------------------------------------------------------------------------------------
# mock
# --------------------------------------------------------------------------------------------
class MockTransport:
    """Calls ``handler(request)`` for every request, like httpx's MockTransport.

    Bodies given as files or iterators are read into bytes first so handlers can inspect
    ``request.body``; every request is recorded in ``requests``. A handler may raise
    :class:`TransportError` to simulate network failures.
    """

    def __init__(self, handler: Callable[[Request], Response]) -> None:
        self.handler = handler
        self.requests: list[Request] = []

    def send(self, request: Request) -> Response:
        body = request.body
        if body is not None and not isinstance(body, bytes):
            read = getattr(body, "read", None)
            request.body = read() if callable(read) else b"".join(body)
        self.requests.append(request)
        response = self.handler(request)
        if not response.url:
            response.url = request.url
        return response


# --------------------------------------------------------------------------------------------
# requests
# --------------------------------------------------------------------------------------------
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


class RequestsTransport:
    """A pooled ``requests.Session`` with per-host TLS and env proxies only when set.

    ``trust_env`` is off (no netrc, no implicit proxies); HTTP(S)_PROXY/NO_PROXY are honoured
    only when present in the environment, and loopback hosts are never proxied.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        import requests

        env = os.environ if environ is None else environ
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.headers["User-Agent"] = _user_agent()
        self._proxy_env = {k: env[k] for k in (*_PROXY_VARS, "NO_PROXY", "no_proxy") if env.get(k)}
        self._mounted: dict[str, TLSConfig] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._session.close()

    def send(self, request: Request) -> Response:
        import requests
        import urllib3

        tls = request.tls or TLSConfig()
        self._mount(request.url, tls)
        headers = dict(request.headers)
        if not request.decode_content:
            headers.setdefault("Accept-Encoding", "identity")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # InsecureRequestWarning for skip_verify hosts
                r = self._session.request(
                    request.method,
                    request.url,
                    headers=headers,
                    data=request.body,
                    stream=True,
                    timeout=request.timeout,
                    allow_redirects=False,
                    verify=tls.verify,
                    proxies=self._proxies(request.url),
                )
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError) as e:
            # ValueError/LocationParseError: an unusable URL or header, e.g. from a Location
            raise classify(e) from None
        response = Response(
            r.status_code,
            r.headers.items(),
            body=lambda n: _iter_body(r, n, request.decode_content),
            url=r.url or request.url,
            reason=r.reason or "",
            on_close=r.close,
        )
        if not request.stream:
            data = response.read()
            response = Response(r.status_code, r.headers.items(), data, response.url, r.reason)
        return response

    # -- TLS ---------------------------------------------------------------------------------
    def _mount(self, url: str, tls: TLSConfig) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https":
            return
        prefix = f"https://{parts.netloc}/"
        with self._lock:
            if self._mounted.get(prefix, TLSConfig()) == tls:
                return
            if tls.is_default:
                from requests.adapters import HTTPAdapter

                self._session.mount(prefix, HTTPAdapter())
            else:
                self._session.mount(prefix, _tls_adapter(tls))
            self._mounted[prefix] = tls

    # -- proxies -----------------------------------------------------------------------------
    def _proxies(self, url: str) -> dict[str, str] | None:
        if not self._proxy_env:
            return None
        parts = urlsplit(url)
        host = parts.hostname or ""
        env = self._proxy_env
        no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
        if _is_loopback(host) or _bypass(host, parts.port, no_proxy):
            return {}
        scheme = parts.scheme
        proxy = (
            env.get(f"{scheme.upper()}_PROXY")
            or env.get(f"{scheme}_proxy")
            or env.get("ALL_PROXY")
            or env.get("all_proxy")
        )
        return {scheme: proxy} if proxy else {}


def _user_agent() -> str:
    try:
        from pynerd import __version__

        return f"pynerd/{__version__}"
    except ImportError:  # pragma: no cover
        return "pynerd"


def _tls_adapter(tls: TLSConfig) -> Any:
    import ssl

    from requests.adapters import HTTPAdapter

    ctx = ssl.create_default_context()
    try:
        import certifi

        ctx.load_verify_locations(certifi.where())
    except (ImportError, OSError):  # pragma: no cover - the system store is enough
        pass
    try:
        for ca in tls.ca_files:
            ctx.load_verify_locations(ca)
        if tls.client_cert is not None:
            cert, key = tls.client_cert
            ctx.load_cert_chain(cert, key or None)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"cannot load TLS certificates: {e}") from None
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

    class _Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = ctx
            super().init_poolmanager(*args, **kwargs)

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            kwargs["ssl_context"] = ctx
            return super().proxy_manager_for(proxy, **kwargs)

    return _Adapter()


def _iter_body(r: requests.Response, chunk_size: int, decode: bool) -> Iterator[bytes]:
    try:
        if decode:
            yield from r.iter_content(chunk_size)
        else:
            yield from r.raw.stream(chunk_size, decode_content=False)
    except Exception as e:
        raise classify(e) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bypass(host: str, port: int | None, no_proxy: str) -> bool:
    """curl-style NO_PROXY: ``*``, ``host``, ``.domain``/``*.domain``, ``host:port``, CIDRs."""
    h = host.lower().strip("[]")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if entry == "*":
            return True
        name, sep, entry_port = entry.rpartition(":")
        if not (sep and entry_port.isdigit() and ":" not in name):
            name, entry_port = entry, ""
        name = name.lstrip("*").lstrip(".").strip("[]")
        if not name or (entry_port and port is not None and entry_port != str(port)):
            continue
        try:
            if ipaddress.ip_address(h) in ipaddress.ip_network(name, strict=False):
                return True
            continue
        except ValueError:
            pass
        if h == name or h.endswith("." + name):
            return True
    return False


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (args, reason, __cause__, __context__)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 32:
        e = todo.pop(0)
        if any(e is s for s in seen):
            continue
        seen.append(e)
        for nxt in (*e.args, getattr(e, "reason", None), e.__cause__, e.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return seen


def classify(exc: BaseException) -> TransportError:
    """Map a requests/urllib3/socket/ssl exception to a TransportError with a short cause."""
    import socket
    import ssl

    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            detail = e.verify_message or e.reason or str(e)
            return TransportError("tls", f"tls: failed to verify certificate: {detail}")
    for e in chain:
        if isinstance(e, ssl.SSLError):
            return TransportError("tls", f"tls: {e.reason or e}")
    for e in chain:
        if isinstance(e, socket.gaierror) or type(e).__name__ == "NameResolutionError":
            return TransportError("dns", "no such host (DNS lookup failed)")
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return TransportError("refused", "connection refused")
    if names & {"ConnectTimeout", "ConnectTimeoutError"}:
        return TransportError("timeout", "connection timed out")
    if names & {"ReadTimeout", "ReadTimeoutError", "TimeoutError", "timeout"}:
        return TransportError("timeout", "timed out waiting for the server")
    for e in chain:
        if isinstance(e, (ConnectionResetError, BrokenPipeError)):
            return TransportError("dropped", "connection reset by peer")
    if names & {
        "ChunkedEncodingError",
        "ProtocolError",
        "IncompleteRead",
        "RemoteDisconnected",
        "ConnectionError",
    }:
        return TransportError("dropped", f"connection dropped: {_short(exc)}")
    for e in chain:
        if isinstance(e, OSError) and e.strerror:
            return TransportError("other", e.strerror.lower())
    return TransportError("other", _short(exc))


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


_DEFAULT: RequestsTransport | None = None
_DEFAULT_LOCK = threading.Lock()


def default_transport() -> RequestsTransport:
    """The process-wide transport: one pooled session for every client."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = RequestsTransport()
        return _DEFAULT


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
