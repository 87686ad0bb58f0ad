"""Registries that demand a login: a JWT token server, docker-registry with token/htpasswd auth.

``TokenServer`` is a tiny Docker-style token service (``GET /token?service=&scope=`` with
optional Basic credentials; ``POST /token`` with a refresh token) on 127.0.0.1, signing RS256
JWTs with a throwaway key whose self-signed certificate is the registry's ``rootcertbundle``
(the token carries it in ``x5c``). ``AuthRegistry`` runs ``docker-registry`` with
``auth.token`` or ``auth.htpasswd``. By default it serves the *storage directory of another
rig registry*, so every fixture image pushed to the session ``registry`` is also available
behind auth without pushing it again (Distribution keeps no state outside its storage).

Fixtures (load this module as a plugin, ``pytest_plugins = ["tests.rig.auth"]``, or import
them into a test module): ``token_server``, ``token_registry``, ``htpasswd_registry``; the
login that works is :data:`RIG_USER` / :data:`RIG_PASSWORD`.
"""

from __future__ import annotations

import atexit
import base64
import datetime
import json
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.rig.registry import REGISTRY_BIN, Registry

RIG_USER = "pynerd"
RIG_PASSWORD = "s3cret-Passw0rd"
SERVICE = "pynerd-rig-registry"
ISSUER = "pynerd-rig-token-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRequest:
    """One request the token server answered (for assertions on caching and scopes)."""

    method: str
    account: str | None  # the authenticated user, None when anonymous
    scopes: list[str]
    status: int
    granted: list[dict[str, Any]] = field(default_factory=list)


class TokenServer:
    """Docker token authentication (distribution's ``auth.token``) for tests.

    ``users`` maps user → password. Authenticated users get every action they ask for;
    anonymous callers get ``pull`` on ``anonymous_pull`` repositories only (and an empty
    token otherwise, which the registry then refuses, as Docker Hub does for private repos).
    """

    def __init__(
        self,
        users: dict[str, str] | None = None,
        service: str = SERVICE,
        issuer: str = ISSUER,
        anonymous_pull: Iterable[str] = (),
        lifetime: int = 300,
    ) -> None:
        self.users = dict(users if users is not None else {RIG_USER: RIG_PASSWORD})
        self.service = service
        self.issuer = issuer
        self.anonymous_pull = set(anonymous_pull)
        self.lifetime = lifetime
        self.requests: list[TokenRequest] = []
        self.workdir: Path | None = None
        self.cert_path: Path | None = None
        self._refresh: dict[str, str] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._key: Any = None
        self._cert_der = b""
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "token server not started"
        return int(self._httpd.server_address[1])

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def start(self) -> TokenServer:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.workdir = Path(tempfile.mkdtemp(prefix="rig-token-"))
        atexit.register(self.stop)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self._cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.cert_path = self.workdir / "token-root.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the key material. Idempotent."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        atexit.unregister(self.stop)

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- tokens -------------------------------------------------------------------------------
    def mint(self, account: str, access: list[dict[str, Any]]) -> str:
        """A signed JWT for ``account`` granting ``access`` (distribution's claim set)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self._cert_der).decode()]}
        claims = {
            "iss": self.issuer,
            "sub": account,
            "aud": self.service,
            "exp": now + self.lifetime,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def _grant(self, account: str | None, scopes: list[str]) -> list[dict[str, Any]]:
        granted = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = [a for a in actions.split(",") if a]
            if account is not None:
                allowed = wanted
            elif kind == "repository" and name in self.anonymous_pull:
                allowed = [a for a in wanted if a == "pull"]
            else:
                allowed = []
            if allowed:
                granted.append({"type": kind, "name": name, "actions": allowed})
        return granted

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        if parts.path != "/token":
            self._reply(h, 404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]})
            return
        query = parse_qs(parts.query)
        account: str | None = None
        refresh = None
        if method == "POST":
            length = int(h.headers.get("Content-Length") or 0)
            form = parse_qs(h.rfile.read(length).decode())
            query.update(form)
            if form.get("grant_type") == ["refresh_token"]:
                refresh = (form.get("refresh_token") or [""])[0]
                account = self._refresh.get(refresh)
                if account is None:
                    self._record(method, None, query, 401)
                    self._reply(h, 401, _error("UNAUTHORIZED", "invalid refresh token"))
                    return
        scopes = [s for v in query.get("scope", []) for s in v.split(" ") if s]
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                user, password = "", ""
            if self.users.get(user) != password or not user:
                self._record(method, user or None, query, 401)
                self._reply(h, 401, _error("UNAUTHORIZED", "incorrect username or password"))
                return
            account = user
        granted = self._grant(account, scopes)
        token = self.mint(account or "", granted)
        body: dict[str, Any] = {
            "token": token,
            "access_token": token,
            "expires_in": self.lifetime,
            "issued_at": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        if account and query.get("offline_token") == ["true"]:
            refresh_token = secrets.token_hex(16)
            self._refresh[refresh_token] = account
            body["refresh_token"] = refresh_token
        self._record(method, account, query, 200, granted)
        self._reply(h, 200, body)

    def _record(
        self,
        method: str,
        account: str | None,
        query: dict[str, list[str]],
        status: int,
        granted: list[dict[str, Any]] | None = None,
    ) -> None:
        scopes = [s for v in query.get("scope", []) for s in v.split(" ") if s]
        with self._lock:
            self.requests.append(TokenRequest(method, account, scopes, status, granted or []))

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd entry, the only kind distribution accepts."""
    import bcrypt

    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}"


class AuthRegistry(Registry):
    """``docker-registry`` with ``auth.token`` (``token_server``) or ``auth.htpasswd`` (``users``).

    ``storage``: serve an existing storage directory (e.g. the session registry's) instead of
    a fresh one; it is not removed on ``stop()``.
    """

    def __init__(
        self,
        kind: str,
        *,
        token_server: TokenServer | None = None,
        users: dict[str, str] | None = None,
        storage: Path | None = None,
        binary: str = REGISTRY_BIN,
        start_timeout: float = 15.0,
    ) -> None:
        super().__init__(binary, start_timeout)
        if kind not in ("token", "htpasswd"):
            raise ValueError(f"unknown auth kind {kind!r}")
        if kind == "token" and token_server is None:
            raise ValueError("token auth needs a token_server")
        self.kind = kind
        self.token_server = token_server
        self.users = dict(users if users is not None else {RIG_USER: RIG_PASSWORD})
        self.storage = storage

    def _auth_yaml(self) -> str:
        assert self.workdir is not None
        if self.kind == "token":
            ts = self.token_server
            assert ts is not None and ts.cert_path is not None
            return (
                "auth:\n  token:\n"
                f"    realm: {ts.realm}\n    service: {ts.service}\n"
                f"    issuer: {ts.issuer}\n    rootcertbundle: {ts.cert_path}\n"
            )
        htpasswd = self.workdir / "htpasswd"
        htpasswd.write_text("".join(htpasswd_line(u, p) + "\n" for u, p in self.users.items()))
        return f"auth:\n  htpasswd:\n    realm: pynerd-rig\n    path: {htpasswd}\n"

    def _workdir_prefix(self) -> str:
        return f"rig-registry-{self.kind}-"

    def _storage_root(self) -> Path:
        return self.storage or super()._storage_root()

    def _config_extra(self) -> str:
        return self._auth_yaml()

    def _is_ready(self, response: requests.Response) -> bool:
        """Ready when ``GET /v2/`` answers 401 with a challenge."""
        return response.status_code == 401 and bool(response.headers.get("WWW-Authenticate"))

    def _describe(self) -> str:
        return f"docker-registry ({self.kind} auth)"

    def stop(self) -> None:
        self._kill()
        self.session.close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        atexit.unregister(self.stop)


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------
def _storage_of(registry: Registry) -> Path:
    assert registry.workdir is not None, "the rig registry is not running"
    return registry.workdir / "storage"


@pytest.fixture(scope="session")
def token_server() -> Iterator[TokenServer]:
    """A running token server; login RIG_USER/RIG_PASSWORD; no anonymous access."""
    server = TokenServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def token_registry(registry: Registry, token_server: TokenServer) -> Iterator[AuthRegistry]:
    """The session registry's content behind Bearer-token auth (``token_server``)."""
    reg = AuthRegistry("token", token_server=token_server, storage=_storage_of(registry))
    reg.start()
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="session")
def htpasswd_registry(registry: Registry) -> Iterator[AuthRegistry]:
    """The session registry's content behind Basic auth (htpasswd, RIG_USER/RIG_PASSWORD)."""
    reg = AuthRegistry("htpasswd", storage=_storage_of(registry))
    reg.start()
    try:
        yield reg
    finally:
        reg.stop()
