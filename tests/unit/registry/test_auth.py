"""WWW-Authenticate parsing, the token cache and the Authorizer's token/basic flows."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from pynerd.registry.auth import (
    Authorizer,
    Challenge,
    TokenCache,
    parse_challenges,
    repository_scope,
)
from pynerd.registry.credentials import Credentials
from pynerd.registry.errors import RegistryUnavailable, Unauthorized
from pynerd.registry.transport import MockTransport, Request, Response

REALM = "https://auth.example.test/token"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/busybox:pull"',
            [Challenge("bearer", {"realm": "https://auth.docker.io/token",
                                  "service": "registry.docker.io",
                                  "scope": "repository:library/busybox:pull"})],
        ),
        (
            'Bearer realm="r",scope="repository:a:pull,push",error="insufficient_scope"',
            [Challenge("bearer", {"realm": "r", "scope": "repository:a:pull,push",
                                  "error": "insufficient_scope"})],
        ),
        ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
        ("basic realm=simple", [Challenge("basic", {"realm": "simple"})]),
        (
            'Bearer realm="a", service="b", Basic realm="c"',
            [Challenge("bearer", {"realm": "a", "service": "b"}),
             Challenge("basic", {"realm": "c"})],
        ),
        ('Bearer realm="say \\"hi\\""', [Challenge("bearer", {"realm": 'say "hi"'})]),
        ("Negotiate", [Challenge("negotiate", {})]),
        ("", []),
    ],
)
def test_parse_challenges(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


def test_repository_scope() -> None:
    assert repository_scope("library/busybox", ["pull"]) == "repository:library/busybox:pull"
    assert repository_scope("a/b", ["pull", "push"]) == "repository:a/b:pull,push"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_cache_honours_expiry_with_a_margin() -> None:
    clock = Clock()
    cache = TokenCache(clock)
    key = ("r", "s", "repository:a:pull", "")
    cache.put(key, "t1", 300)
    assert cache.get(key) == "t1"
    clock.now += 294
    assert cache.get(key) == "t1"
    clock.now += 2  # within the 5 s margin of expiry
    assert cache.get(key) is None
    cache.put(key, "t2", 10)  # shorter than 60 s is treated as 60 s (distribution's minimum)
    clock.now += 50
    assert cache.get(key) == "t2"
    cache.invalidate(key)
    assert cache.get(key) is None


class TokenRealm:
    """A fake token endpoint: counts requests, checks Basic creds."""

    def __init__(self, users: dict[str, str] | None = None, expires_in: int = 300,
                 key: str = "token") -> None:
        self.users = users or {}
        self.expires_in = expires_in
        self.key = key
        self.seen: list[Request] = []

    def __call__(self, req: Request) -> Response:
        self.seen.append(req)
        auth = req.headers.get("Authorization", "")
        account = "anonymous"
        if auth.startswith("Basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if self.users.get(user) != pw:
                body = {"errors": [{"code": "UNAUTHORIZED",
                                    "message": "incorrect username or password"}]}
                return Response(401, {}, json.dumps(body).encode())
            account = user
        if req.method == "POST":
            form = parse_qs((req.body or b"").decode())  # type: ignore[union-attr]
            account = "refresh:" + form["refresh_token"][0]
        body = {self.key: f"tok-{account}-{len(self.seen)}", "expires_in": self.expires_in}
        return Response(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def make(realm: TokenRealm, creds: Credentials | None = None,
         cache: TokenCache | None = None) -> Authorizer:
    transport = MockTransport(realm)
    return Authorizer(transport.send, lambda host: creds, cache or TokenCache())


def challenge_401(scope: str = "repository:a:pull") -> Response:
    header = f'Bearer realm="{REALM}",service="svc",scope="{scope}"'
    return Response(401, {"WWW-Authenticate": header})


def test_anonymous_bearer_flow_and_caching() -> None:
    realm = TokenRealm()
    auth = make(realm)
    scopes = ["repository:a:pull"]
    assert auth.header("reg", "reg", scopes, None) is None  # nothing known yet
    assert auth.on_401("reg", "reg", scopes, challenge_401(), None) == "Bearer tok-anonymous-1"
    req = realm.seen[0]
    q = parse_qs(urlsplit(req.url).query)
    assert q == {"service": ["svc"], "scope": ["repository:a:pull"]}
    assert "Authorization" not in req.headers
    # The remembered challenge and the cached token serve later requests without a fetch.
    assert auth.header("reg", "reg", scopes, None) == "Bearer tok-anonymous-1"
    assert len(realm.seen) == 1
    # Another scope needs another token.
    assert auth.header("reg", "reg", ["repository:b:pull"], None) == "Bearer tok-anonymous-2"
    assert auth.token_fetches == 2


def test_token_cache_is_shared_between_authorizers() -> None:
    realm = TokenRealm()
    cache = TokenCache()
    make(realm, cache=cache).on_401("reg", "reg", ["repository:a:pull"], challenge_401(), None)
    second = make(realm, cache=cache)
    second.remember("reg", Challenge("bearer", {"realm": REALM, "service": "svc"}))
    assert second.header("reg", "reg", ["repository:a:pull"], None) == "Bearer tok-anonymous-1"
    assert len(realm.seen) == 1


def test_a_401_with_a_cached_token_fetches_a_fresh_one() -> None:
    realm = TokenRealm()
    auth = make(realm)
    scopes = ["repository:a:pull"]
    first = auth.on_401("reg", "reg", scopes, challenge_401(), None)
    # A 401 to a request without that token (another client, say) reuses the cached one...
    assert auth.on_401("reg", "reg", scopes, challenge_401(), None) == first
    # ...but the token that was just refused is replaced.
    assert auth.on_401("reg", "reg", scopes, challenge_401(), None, sent=first) == (
        "Bearer tok-anonymous-2"
    )


def test_credentials_are_sent_as_basic_to_the_realm() -> None:
    realm = TokenRealm({"alice": "pw"})
    auth = make(realm, Credentials("alice", "pw"))
    header = auth.on_401("reg", "reg", ["repository:a:pull,push"],
                         challenge_401("repository:a:pull,push"), None)
    assert header == "Bearer tok-alice-1"
    req = realm.seen[0]
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"alice:pw").decode()
    assert parse_qs(urlsplit(req.url).query)["account"] == ["alice"]


def test_challenge_scope_is_merged_with_ours() -> None:
    realm = TokenRealm()
    auth = make(realm)
    auth.on_401("reg", "reg", ["repository:a:pull"], challenge_401("repository:b:pull"), None)
    q = parse_qs(urlsplit(realm.seen[0].url).query)
    assert q["scope"] == ["repository:a:pull", "repository:b:pull"]
    # A challenge scope that ours already cover adds nothing.
    auth.on_401("reg", "reg", ["repository:c:pull,push"], challenge_401("repository:c:pull"),
                None)
    assert parse_qs(urlsplit(realm.seen[1].url).query)["scope"] == ["repository:c:pull,push"]


def test_bad_credentials_raise_unauthorized_with_the_servers_words() -> None:
    realm = TokenRealm({"alice": "pw"})
    auth = make(realm, Credentials("alice", "wrong"))
    with pytest.raises(Unauthorized) as exc:
        auth.on_401("reg", "reg", ["repository:a:pull"], challenge_401(), None)
    assert str(exc.value) == "unauthorized: incorrect username or password"


def test_identity_token_uses_the_oauth_refresh_grant() -> None:
    realm = TokenRealm()
    auth = make(realm, Credentials("", identity_token="rt-1"))
    assert auth.on_401("reg", "reg", ["repository:a:pull"], challenge_401(), None) == (
        "Bearer tok-refresh:rt-1-1"
    )
    req = realm.seen[0]
    assert req.method == "POST" and req.url == REALM
    form = parse_qs(req.body.decode())  # type: ignore[union-attr]
    assert form["grant_type"] == ["refresh_token"] and form["service"] == ["svc"]
    assert form["scope"] == ["repository:a:pull"] and form["client_id"] == ["pynerd"]


def test_access_token_key_and_expires_in() -> None:
    clock = Clock()
    realm = TokenRealm(expires_in=120, key="access_token")
    auth = make(realm, cache=TokenCache(clock))
    scopes = ["repository:a:pull"]
    assert auth.on_401("reg", "reg", scopes, challenge_401(), None) == "Bearer tok-anonymous-1"
    clock.now += 100
    assert auth.header("reg", "reg", scopes, None) == "Bearer tok-anonymous-1"
    clock.now += 20  # expired
    assert auth.header("reg", "reg", scopes, None) == "Bearer tok-anonymous-2"


def test_basic_challenge_sends_the_login_or_gives_up() -> None:
    auth = make(TokenRealm(), Credentials("bob", "pw"))
    resp = Response(401, {"WWW-Authenticate": 'Basic realm="r"'})
    expected = "Basic " + base64.b64encode(b"bob:pw").decode()
    assert auth.on_401("reg", "reg", [], resp, None) == expected
    assert auth.header("reg", "reg", [], None) == expected
    assert make(TokenRealm()).on_401("reg", "reg", [], resp, None) is None


def test_unusable_challenges() -> None:
    auth = make(TokenRealm())
    assert auth.on_401("reg", "reg", [], Response(401), None) is None
    negotiate = Response(401, {"WWW-Authenticate": "Negotiate"})
    assert auth.on_401("reg", "reg", [], negotiate, None) is None
    bad_realm = Response(401, {"WWW-Authenticate": 'Bearer realm="ftp://x"'})
    with pytest.raises(Unauthorized, match="invalid token realm"):
        auth.on_401("reg", "reg", [], bad_realm, None)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (Response(500, {}, b"oops"), "token server auth.example.test answered 500"),
        (Response(200, {}, b"{}"), "answered without a token"),
        (Response(200, {}, b"not json"), "answered without a token"),
    ],
)
def test_token_server_failures(response: Response, message: str) -> None:
    auth = Authorizer(MockTransport(lambda req: response).send, lambda h: None, TokenCache())
    with pytest.raises(RegistryUnavailable, match=message):
        auth.on_401("reg", "reg", [], challenge_401(), None)


def test_forget_drops_cached_credentials() -> None:
    calls: list[str] = []

    def lookup(host: str) -> Credentials | None:
        calls.append(host)
        return None

    auth = Authorizer(MockTransport(TokenRealm()).send, lookup, TokenCache())
    auth.creds("h")
    auth.creds("h")
    assert calls == ["h"]
    auth.forget("h")
    auth.creds("h")
    assert calls == ["h", "h"]
