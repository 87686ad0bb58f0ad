"""Registry authentication: ``WWW-Authenticate`` challenges, Bearer tokens and Basic auth.

The flow is Docker's. A request goes out with whatever we already know for its host; a 401
carries a challenge. ``Bearer realm=…,service=…,scope=…`` means: fetch a token from the realm
(GET with ``service`` and ``scope=repository:<path>:pull[,push]``, with Basic credentials when
we have a login, anonymously otherwise; POST with the refresh token for an identity-token
login) and retry. ``Basic`` means: send the login itself. Tokens are cached per
(realm, service, scopes, user) for the life of the process, honouring ``expires_in``, and the
challenge of each host is remembered so later requests carry a token from the start.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from pynerd.registry.credentials import Credentials
from pynerd.registry.errors import RegistryUnavailable, Unauthorized, describe
from pynerd.registry.transport import Request, Response, TLSConfig

MIN_TOKEN_LIFETIME = 60  # seconds; the distribution spec's default when expires_in is absent
EXPIRY_MARGIN = 5.0  # refresh a little early: a token must not expire in flight
CLIENT_ID = "pynerd"


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge; ``scheme`` is lower-case (``bearer``, ``basic``)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM_RE = re.compile(
    r"\s*(" + _TOKEN + r")\s*=\s*(?:\"((?:[^\"\\]|\\.)*)\"|(" + _TOKEN + r"|[^,\s]*))\s*,?"
)
_SCHEME_RE = re.compile(r"\s*,?\s*(" + _TOKEN + r")(?:\s+|$)")


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value (RFC 7235), quoted commas included."""
    out: list[Challenge] = []
    pos = 0
    while pos < len(header):
        m = _SCHEME_RE.match(header, pos)
        if not m:
            break
        scheme = m.group(1).lower()
        pos = m.end()
        params: dict[str, str] = {}
        while pos < len(header):
            pm = _PARAM_RE.match(header, pos)
            # A bare token followed by a space (not "=") starts the next challenge.
            if not pm:
                break
            value = pm.group(2)
            value = re.sub(r"\\(.)", r"\1", value) if value is not None else pm.group(3) or ""
            params[pm.group(1).lower()] = value
            pos = pm.end()
        out.append(Challenge(scheme, params))
    return out


def repository_scope(path: str, actions: Iterable[str]) -> str:
    return f"repository:{path}:{','.join(actions)}"


class TokenCache:
    """Bearer tokens by (realm, service, scopes, user), valid until their expiry, and the
    last challenge of each registry host, so a second client skips the 401 round trip."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str, str, str], tuple[str, float]] = {}
        self.challenges: dict[str, Challenge] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str, str]) -> str | None:
        with self._lock:
            hit = self._tokens.get(key)
            if hit is None:
                return None
            token, expires = hit
            if self._clock() >= expires - EXPIRY_MARGIN:
                del self._tokens[key]
                return None
            return token

    def put(self, key: tuple[str, str, str, str], token: str, lifetime: float) -> None:
        with self._lock:
            self._tokens[key] = (token, self._clock() + max(lifetime, MIN_TOKEN_LIFETIME))

    def invalidate(self, key: tuple[str, str, str, str]) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()
            self.challenges.clear()


PROCESS_TOKENS = TokenCache()

Send = Callable[[Request], Response]
Lookup = Callable[[str], "Credentials | None"]


class Authorizer:
    """Decides the Authorization header per (endpoint, scopes) and reacts to 401 challenges.

    ``send`` performs a request (the client's, with retries); ``credentials(host)`` returns
    the login for a registry host or None. ``host`` arguments are credential hosts
    (``docker.io``, ``127.0.0.1:5000``); ``origin`` is the endpoint's ``scheme://host``.
    """

    def __init__(self, send: Send, credentials: Lookup, cache: TokenCache | None = None) -> None:
        self._send = send
        self._credentials = credentials
        self.cache = cache if cache is not None else PROCESS_TOKENS
        self._challenges = self.cache.challenges
        self._creds: dict[str, Credentials | None] = {}
        # One token fetch at a time: parallel layer pulls/pushes that all hit the same 401
        # then share one token instead of each asking the token server.
        self._fetch_lock = threading.Lock()
        self.token_fetches = 0  # for tests and debugging

    def creds(self, host: str) -> Credentials | None:
        if host not in self._creds:
            self._creds[host] = self._credentials(host)
        return self._creds[host]

    def forget(self, host: str) -> None:
        """Drop the cached login of ``host`` (after ``login`` stored a new one)."""
        self._creds.pop(host, None)

    def known_challenge(self, origin: str) -> Challenge | None:
        return self._challenges.get(origin)

    def remember(self, origin: str, challenge: Challenge) -> None:
        self._challenges[origin] = challenge

    def header(
        self, origin: str, host: str, scopes: Sequence[str], tls: TLSConfig | None
    ) -> str | None:
        """The header to send up front, from what earlier challenges taught us."""
        challenge = self._challenges.get(origin)
        if challenge is None:
            return None
        return self._answer(challenge, host, scopes, tls, stale=None)

    def on_401(
        self,
        origin: str,
        host: str,
        scopes: Sequence[str],
        response: Response,
        tls: TLSConfig | None,
        sent: str | None = None,
    ) -> str | None:
        """After a 401 to a request that carried ``sent``: the header to retry with, or None.

        A cached token is reused unless it is the one just refused.
        """
        challenges = parse_challenges(response.headers.get("WWW-Authenticate", ""))
        usable = [c for c in challenges if c.scheme in ("bearer", "basic")]
        if not usable:
            return None
        challenge = next((c for c in usable if c.scheme == "bearer"), usable[0])
        self._challenges[origin] = challenge
        if challenge.scheme == "bearer" and challenge.params.get("scope"):
            scopes = _merge_scopes(scopes, challenge.params["scope"].split(" "))
        return self._answer(challenge, host, scopes, tls, stale=sent or "")

    def _answer(
        self,
        challenge: Challenge,
        host: str,
        scopes: Sequence[str],
        tls: TLSConfig | None,
        stale: str | None,
    ) -> str | None:
        creds = self.creds(host)
        if challenge.scheme == "basic":
            if creds is None or not creds.username:
                return None
            raw = f"{creds.username}:{creds.password}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        key = (
            challenge.realm,
            challenge.service,
            " ".join(sorted(set(scopes))),
            creds.username if creds else "",
        )
        with self._fetch_lock:
            token = self.cache.get(key)
            if token is not None:
                if f"Bearer {token}" != stale:
                    return f"Bearer {token}"
                self.cache.invalidate(key)
            token, lifetime = self.fetch_token(challenge, scopes, creds, tls)
            self.cache.put(key, token, lifetime)
        return f"Bearer {token}"

    def fetch_token(
        self,
        challenge: Challenge,
        scopes: Sequence[str],
        creds: Credentials | None,
        tls: TLSConfig | None = None,
        offline: bool = False,
    ) -> tuple[str, float]:
        """(token, lifetime) from the challenge's realm; Unauthorized if the realm says no."""
        realm = challenge.realm
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Unauthorized(f"invalid token realm {realm!r} in the registry's challenge")
        self.token_fetches += 1
        headers = {"Accept": "application/json"}
        if creds is not None and creds.identity_token:
            form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", creds.identity_token),
                ("client_id", CLIENT_ID),
            ]
            if challenge.service:
                form.append(("service", challenge.service))
            if scopes:
                form.append(("scope", " ".join(scopes)))
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            req = Request("POST", realm, headers, urlencode(form).encode(), tls=tls)
        else:
            query: list[tuple[str, str]] = []
            if challenge.service:
                query.append(("service", challenge.service))
            query.extend(("scope", s) for s in scopes)
            if creds is not None and creds.username:
                query.append(("account", creds.username))
                raw = f"{creds.username}:{creds.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
            if offline:
                query += [("offline_token", "true"), ("client_id", CLIENT_ID)]
            sep = "&" if parts.query else "?"
            url = realm + (sep + urlencode(query) if query else "")
            req = Request("GET", url, headers, tls=tls)
        response = self._send(req)
        body = response.read(limit=1 << 20)
        if response.status in (401, 403):
            raise Unauthorized(
                describe(body, response.status, response.reason), status=response.status
            )
        if response.status != 200:
            raise RegistryUnavailable(
                f"token server {parts.netloc} answered {response.status} {response.reason}: "
                f"{describe(body, response.status, response.reason)}",
                host=parts.netloc,
                status=response.status,
            )
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
            lifetime = float(doc.get("expires_in") or MIN_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            token, lifetime = None, 0.0
        if not isinstance(token, str) or not token:
            raise RegistryUnavailable(
                f"token server {parts.netloc} answered without a token", host=parts.netloc
            )
        return token, lifetime


def _merge_scopes(ours: Sequence[str], theirs: Iterable[str]) -> list[str]:
    """Add the challenge's scopes that ours do not already cover (same resource, more actions)."""
    out = list(ours)
    for scope in theirs:
        kind_name, _, actions = scope.rpartition(":")
        wanted = set(actions.split(","))
        covered = any(
            s.rpartition(":")[0] == kind_name and wanted <= set(s.rpartition(":")[2].split(","))
            for s in out
        )
        if scope and not covered:
            out.append(scope)
    return out
