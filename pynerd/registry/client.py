"""The OCI distribution client: resolve, fetch, push, login and tag listing.

Every request goes through one path: the endpoint's URL and TLS settings (hosts.py), an
Authorization header from :class:`Authorizer` (retried once after a 401 with the fresh
challenge), redirects followed here (the header is dropped when the redirect leaves the
registry's origin, e.g. for a storage bucket), and bounded retries with exponential backoff for
429, 5xx, timeouts and dropped connections (``Retry-After`` honoured up to a cap). Pull-side
operations try the endpoints in order (mirrors, then upstream) and report the last failure.
Every failure leaves as a typed error from :mod:`pynerd.registry.errors`; no requests
exception escapes.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from pynerd.config import Config
from pynerd.errors import ConfigError, InvalidArgument, PynerdError
from pynerd.registry import hosts, media
from pynerd.registry.auth import Authorizer, TokenCache, parse_challenges, repository_scope
from pynerd.registry.blobs import (
    BlobReader,
    content_range,
    digest_with,
    range_total,
    sha256_digest,
)
from pynerd.registry.credentials import Credentials, CredentialStore, normalize_host
from pynerd.registry.descriptor import Descriptor
from pynerd.registry.errors import (
    ConnectionDropped,
    DigestMismatch,
    RegistryNotFound,
    RegistryRejected,
    RegistryUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    describe,
    error_codes,
)
from pynerd.registry.hosts import Endpoint
from pynerd.registry.reference import Reference, parse_digest
from pynerd.registry.transport import Body, Request, Response, Transport, TransportError

if TYPE_CHECKING:
    from pynerd.procs import Runner

__all__ = ["BlobReader", "Descriptor", "RegistryClient", "RetryPolicy"]

T = TypeVar("T")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_KINDS = frozenset({"timeout", "dropped"})
FALLBACK_KINDS = frozenset({"tls", "refused", "dropped", "other"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
CHUNK = 1 << 20


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``attempts`` tries, sleeping base·2ⁿ (≤ max_delay) or Retry-After (≤ cap)."""

    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 2.0
    retry_after_cap: float = 10.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after:
            seconds = _parse_retry_after(retry_after)
            if seconds is not None:
                return max(0.0, min(seconds, self.retry_after_cap))
        return min(self.base_delay * (1 << attempt), self.max_delay)


def _parse_retry_after(value: str) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return float(when.timestamp() - time.time())


class RegistryClient:
    """One client per command; tokens are shared process-wide through :data:`PROCESS_TOKENS`."""

    manifest_limit = 8 << 20  # bytes; a manifest is small, a huge body is a broken registry
    monolithic_limit = 32 << 20  # blobs up to this size go up in one PUT
    chunk_size = 16 << 20  # PATCH size for larger blobs

    def __init__(
        self,
        cfg: Config,
        transport: Transport | None = None,
        credentials: CredentialStore | None = None,
        runner: Runner | None = None,
        *,
        tokens: TokenCache | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self._transport = transport
        self.credentials = credentials or CredentialStore(runner=runner)
        self.retry = retry or RetryPolicy()
        self.sleep = sleep or time.sleep
        self.auth = Authorizer(self._attempt_plain, self.credentials.get, tokens)
        self._endpoints: dict[str, list[Endpoint]] = {}
        self._http_hosts: set[str] = set()

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            from pynerd.registry.transport import default_transport

            self._transport = default_transport()
        return self._transport

    # ---------------------------------------------------------------------------------------
    # public API
    # ---------------------------------------------------------------------------------------
    def endpoints(self, host: str) -> list[Endpoint]:
        if host not in self._endpoints:
            self._endpoints[host] = hosts.endpoints(self.cfg, host)
        return self._endpoints[host]

    def resolve(self, ref: Reference) -> tuple[Descriptor, bytes]:
        """The manifest or index a tag/digest names: its descriptor and raw bytes."""

        def attempt(ep: Endpoint) -> tuple[Descriptor, bytes]:
            resp = self._request(
                ep,
                "GET",
                self._url(ep, ref, "manifests", ref.object),
                cred_host=self._cred_host(ep, ref),
                scopes=[repository_scope(ref.path, ["pull"])],
                headers={"Accept": media.MANIFEST_ACCEPT},
            )
            if resp.status != 200:
                raise self._error(resp, ref, ep, what=f"manifest for {ref.familiar()}")
            body = self._read_limited(resp, ep)
            media_type = self._media_type(resp, body, ref)
            digest = self._verify_manifest(body, resp, ref.digest, ref, ep)
            return Descriptor(media_type, digest, len(body)), body

        return self._over_endpoints(ref, "resolve", attempt)

    def fetch_manifest(self, ref: Reference, digest: str) -> bytes:
        """A manifest by digest (e.g. an index's child), verified against the digest."""
        parse_digest(digest)
        target = ref.repository().with_digest(digest)

        def attempt(ep: Endpoint) -> bytes:
            resp = self._request(
                ep,
                "GET",
                self._url(ep, ref, "manifests", digest),
                cred_host=self._cred_host(ep, ref),
                scopes=[repository_scope(ref.path, ["pull"])],
                headers={"Accept": media.MANIFEST_ACCEPT},
            )
            if resp.status != 200:
                raise self._error(resp, target, ep, what=f"manifest for {target.familiar()}")
            body = self._read_limited(resp, ep)
            self._verify_manifest(body, resp, digest, target, ep)
            return body

        return self._over_endpoints(ref, "pull", attempt)

    def fetch_blob(
        self, ref: Reference, digest: str, offset: int = 0, *, verify: bool = False
    ) -> BlobReader:
        """Stream a blob, from ``offset`` when > 0 (check ``BlobReader.offset``: a server may
        ignore the Range header and send everything from 0)."""
        parse_digest(digest)

        def attempt(ep: Endpoint) -> BlobReader:
            headers = {"Range": f"bytes={offset}-"} if offset > 0 else {}
            resp = self._request(
                ep,
                "GET",
                self._url(ep, ref, "blobs", digest),
                cred_host=self._cred_host(ep, ref),
                scopes=[repository_scope(ref.path, ["pull"])],
                headers=headers,
                stream=True,
                decode=False,
            )
            if resp.status == 416 and offset > 0:
                total = range_total(resp.headers.get("Content-Range", ""))
                resp.close()
                if total == offset:  # nothing left to read: the caller had it all
                    return BlobReader(Response(206, url=resp.url), digest, offset, total)
                raise RegistryRejected(
                    f"cannot resume blob {digest} from {ep.host} at byte {offset}: "
                    "range not satisfiable",
                    status=416,
                )
            if resp.status == 200:
                length = resp.headers.get("Content-Length", "")
                size = int(length) if length.isdigit() else None
                return BlobReader(resp, digest, 0, size, verify, ep.host)
            if resp.status == 206:
                start, total = content_range(resp.headers.get("Content-Range", ""))
                if start is None:
                    resp.close()
                    raise RegistryRejected(
                        f"blob {digest} from {ep.host}: partial answer without a valid "
                        "Content-Range",
                        status=206,
                    )
                return BlobReader(resp, digest, start, total, verify, ep.host)
            raise self._error(resp, ref, ep, what=f"blob {digest} of {ref.familiar_name}")

        return self._over_endpoints(ref, "pull", attempt)

    def blob_exists(self, ref: Reference, digest: str) -> int | None:
        """The blob's size if the (push) repository has it, else None."""
        ep = self._push_endpoint(ref)
        scopes = [repository_scope(ref.path, ["pull", "push"])]
        return self._head_blob(ep, ref, digest, self._cred_host(ep, ref), scopes)

    def push_blob(
        self,
        ref: Reference,
        digest: str,
        size: int,
        open_data: Callable[[], BinaryIO],
        mount_from: Sequence[str] = (),
    ) -> None:
        """Upload a blob unless the repository has it: cross-repo mount first, then upload.

        ``open_data`` is called for each (re)try and must return a fresh stream at byte 0;
        ``mount_from`` lists repositories of the same registry that have the blob.
        """
        parse_digest(digest)
        ep = self._push_endpoint(ref)
        sources = [p for p in (self._same_registry_path(ref, s) for s in mount_from) if p]
        scopes = [repository_scope(ref.path, ["pull", "push"])]
        scopes += [repository_scope(p, ["pull"]) for p in sources if p != ref.path]
        cred_host = self._cred_host(ep, ref)
        if self._head_blob(ep, ref, digest, cred_host, scopes) is not None:
            return
        uploads = self._url(ep, ref, "blobs", "uploads/")
        location: str | None = None
        candidates = [s for s in dict.fromkeys(sources) if s != ref.path]
        for i, source in enumerate(candidates):
            resp = self._request(
                ep,
                "POST",
                _with_query(uploads, mount=digest, **{"from": source}),
                cred_host=cred_host,
                scopes=scopes,
                body=b"",
            )
            resp.close()
            if resp.status == 201:
                return
            if resp.status == 202 and resp.headers.get("Location"):
                # No mount: the registry opened a normal upload. Keep the last one for the
                # data; cancel the others so they do not linger until the registry purges them.
                location = urljoin(resp.url, resp.headers["Location"])
                if i < len(candidates) - 1:
                    self._cancel_upload(ep, location, cred_host, scopes)
                    location = None
        if location is None:
            resp = self._request(ep, "POST", uploads, cred_host=cred_host, scopes=scopes, body=b"")
            resp.close()
            if resp.status != 202 or not resp.headers.get("Location"):
                raise self._error(resp, ref, ep, what=f"upload of blob {digest}", push=True)
            location = urljoin(resp.url, resp.headers["Location"])
        if size <= self.monolithic_limit:
            resp = self._request(
                ep,
                "PUT",
                _with_query(location, digest=digest),
                cred_host=cred_host,
                scopes=scopes,
                body=open_data,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                timeout=(15.0, 300.0),
            )
        else:
            resp = self._upload_chunks(
                ep, ref, digest, size, open_data, location, cred_host, scopes
            )
        resp.close()
        if resp.status not in (201, 204):
            raise self._error(resp, ref, ep, what=f"upload of blob {digest}", push=True)
        stored = resp.headers.get("Docker-Content-Digest")
        if stored and stored != digest:
            raise DigestMismatch(
                f"registry {ep.host} stored blob {digest} as {stored}",
                expected=digest,
                actual=stored,
            )

    def put_manifest(self, ref: Reference, body: bytes, media_type: str) -> str:
        """PUT a manifest under the reference's tag (or its digest); returns its digest."""
        digest = digest_with(body, ref.digest) if ref.digest else sha256_digest(body)
        if ref.digest and digest != ref.digest:
            raise DigestMismatch(
                f"manifest for {ref.familiar()} has digest {digest}, not {ref.digest}",
                expected=ref.digest,
                actual=digest,
            )
        ep = self._push_endpoint(ref)
        target = ref.tag or ref.digest or "latest"
        resp = self._request(
            ep,
            "PUT",
            self._url(ep, ref, "manifests", target),
            cred_host=self._cred_host(ep, ref),
            scopes=[repository_scope(ref.path, ["pull", "push"])],
            headers={"Content-Type": media_type},
            body=body,
        )
        resp.close()
        if not 200 <= resp.status < 300:
            raise self._error(resp, ref, ep, what=f"manifest for {ref.familiar()}", push=True)
        stored = resp.headers.get("Docker-Content-Digest")
        if stored and stored != digest_with(body, stored):
            raise DigestMismatch(
                f"registry {ep.host} stored manifest for {ref.familiar()} as {stored}, "
                f"expected {digest}",
                expected=digest,
                actual=stored,
            )
        return digest

    def list_tags(self, ref: Reference) -> list[str]:
        """All tags of the repository (following ``Link`` pagination)."""

        def attempt(ep: Endpoint) -> list[str]:
            url: str | None = self._url(ep, ref, "tags", "list")
            tags: list[str] = []
            for _page in range(1000):
                if url is None:
                    break
                resp = self._request(
                    ep,
                    "GET",
                    url,
                    cred_host=self._cred_host(ep, ref),
                    scopes=[repository_scope(ref.path, ["pull"])],
                )
                if resp.status != 200:
                    what = f"tags of {ref.familiar_name}"
                    raise self._error(resp, ref.repository(), ep, what=what)
                body = self._read_limited(resp, ep)
                try:
                    page = json.loads(body).get("tags") or []
                except (ValueError, AttributeError):
                    raise RegistryRejected(
                        f"invalid tag list for {ref.familiar_name} from {ep.host}"
                    ) from None
                tags += [t for t in page if isinstance(t, str)]
                url = _next_link(resp.headers.get("Link", ""), resp.url or url)
            return tags

        return self._over_endpoints(ref, "resolve", attempt)

    def login(self, host: str, username: str, password: str) -> None:
        """Check the login against the registry (and its token server), then save it.

        Nothing is written unless the registry accepted the credentials; a rejection raises
        :class:`Unauthorized`.
        """
        host = normalize_host(host)
        ep = self.endpoints(host)[-1]
        creds = Credentials(username, password)
        url = self._api(ep) + "/"
        resp = self._request(ep, "GET", url, cred_host=host, authenticate=False)
        resp.close()
        if resp.status == 401:
            self._login_challenge(ep, resp, creds)
        elif resp.status != 200:
            raise self._error(resp, None, ep, what=f"login to {host}")
        self.credentials.store(host, username, password)
        self.auth.forget(host)

    # ---------------------------------------------------------------------------------------
    # helpers: endpoints and URLs
    # ---------------------------------------------------------------------------------------
    def _api(self, ep: Endpoint) -> str:
        return (ep.as_http() if ep.host in self._http_hosts else ep).api_root

    def _url(self, ep: Endpoint, ref: Reference, kind: str, obj: str) -> str:
        return f"{self._api(ep)}/{ref.path}/{kind}/{obj}"

    def _cred_host(self, ep: Endpoint, ref: Reference) -> str:
        """A mirror uses its own login; the upstream the registry's (``docker.io``...)."""
        return ep.host if ep.mirror else ref.domain

    def _push_endpoint(self, ref: Reference) -> Endpoint:
        for ep in self.endpoints(ref.domain):
            if ep.can("push"):
                return ep
        raise ConfigError(f"no host configured for {ref.domain} has the push capability")

    def _over_endpoints(self, ref: Reference, capability: str, fn: Callable[[Endpoint], T]) -> T:
        eps = [ep for ep in self.endpoints(ref.domain) if ep.can(capability)]
        if not eps:
            raise ConfigError(
                f"no host configured for {ref.domain} has the {capability} capability"
            )
        for ep in eps[:-1]:
            try:
                return fn(ep)
            except PynerdError:
                continue  # a mirror that lacks the content or fails: try the next host
        return fn(eps[-1])

    @staticmethod
    def _same_registry_path(ref: Reference, source: str) -> str | None:
        first, sep, rest = source.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            return rest if first == ref.domain else None
        return source

    # ---------------------------------------------------------------------------------------
    # helpers: requests
    # ---------------------------------------------------------------------------------------
    def _request(
        self,
        ep: Endpoint,
        method: str,
        url: str,
        *,
        cred_host: str,
        scopes: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes | Callable[[], Body] | None = None,
        stream: bool = False,
        decode: bool = True,
        authenticate: bool = True,
        timeout: float | tuple[float, float] | None = None,
    ) -> Response:
        """Send with auth, the 401-retry, redirects, retries and the insecure HTTP fallback."""
        try:
            return self._request_once(
                ep,
                method,
                url,
                cred_host,
                scopes,
                headers,
                body,
                stream,
                decode,
                authenticate,
                timeout,
            )
        except RegistryUnavailable as e:
            secure = f"https://{ep.host}"
            if not (
                ep.http_fallback
                and e.transport_kind in FALLBACK_KINDS
                and url.startswith(secure)
                and ep.host not in self._http_hosts
            ):
                raise
            self._http_hosts.add(ep.host)
            url = "http://" + url[len("https://") :]
            return self._request_once(
                ep,
                method,
                url,
                cred_host,
                scopes,
                headers,
                body,
                stream,
                decode,
                authenticate,
                timeout,
            )

    def _request_once(
        self,
        ep: Endpoint,
        method: str,
        url: str,
        cred_host: str,
        scopes: Sequence[str],
        headers: Mapping[str, str] | None,
        body: bytes | Callable[[], Body] | None,
        stream: bool,
        decode: bool,
        authenticate: bool,
        timeout: float | tuple[float, float] | None,
    ) -> Response:
        tls = ep.tls() if url.startswith("https://") else None
        base_headers = dict(ep.headers)
        base_headers.update(headers or {})

        def make(authorization: str | None) -> Callable[[], Request]:
            def build() -> Request:
                h = dict(base_headers)
                if authorization:
                    h["Authorization"] = authorization
                payload = body() if callable(body) else body
                req = Request(
                    method, url, h, payload, stream=stream, tls=tls, decode_content=decode
                )
                if timeout is not None:
                    req.timeout = timeout
                return req

            return build

        authorization = None
        if authenticate:
            try:
                authorization = self.auth.header(ep.host, cred_host, scopes, tls)
            except Unauthorized as e:
                return _refused(e, url)
        resp = self._attempt(make(authorization))
        if resp.status == 401 and authenticate:
            try:
                retry_auth = self.auth.on_401(
                    ep.host, cred_host, scopes, resp, tls, sent=authorization
                )
            except Unauthorized as e:
                resp.close()
                return _refused(e, url)
            if retry_auth is not None and retry_auth != authorization:
                resp.close()
                resp = self._attempt(make(retry_auth))
        return resp

    def _attempt_plain(self, req: Request) -> Response:
        """For the token server: retries, no registry auth."""
        return self._attempt(lambda: req)

    def _attempt(self, make: Callable[[], Request]) -> Response:
        policy = self.retry
        for attempt in range(max(1, policy.attempts)):
            last = attempt >= policy.attempts - 1
            req = make()
            try:
                resp = self._follow(req)
            except TransportError as e:
                if e.kind in RETRY_KINDS and not last:
                    self.sleep(policy.delay(attempt))
                    continue
                raise _unreachable(req, e) from None
            finally:
                _close_body(req.body)
            if resp.status in RETRY_STATUSES and not last:
                delay = policy.delay(attempt, resp.headers.get("Retry-After"))
                resp.close()
                self.sleep(delay)
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _follow(self, req: Request) -> Response:
        """Send, following redirects; Authorization never leaves the original origin."""
        origin = _origin(req.url)
        for _ in range(MAX_REDIRECTS + 1):
            resp = self.transport.send(req)
            location = resp.headers.get("Location")
            if resp.status not in REDIRECTS or not location or req.method not in ("GET", "HEAD"):
                return resp
            resp.close()
            url = urljoin(req.url, location)
            headers = dict(req.headers)
            if _origin(url) != origin:
                headers.pop("Authorization", None)
            tls = req.tls if _origin(url) == origin else None
            req = Request(
                req.method, url, headers, None, req.stream, req.timeout, tls, req.decode_content
            )
        raise TransportError("other", f"too many redirects (last: {req.url})")

    # ---------------------------------------------------------------------------------------
    # helpers: bodies, media types, digests, errors
    # ---------------------------------------------------------------------------------------
    def _read_limited(self, resp: Response, ep: Endpoint) -> bytes:
        try:
            return resp.read(limit=self.manifest_limit)
        except ValueError:
            raise RegistryRejected(
                f"registry {ep.host} sent a manifest larger than {self.manifest_limit} bytes"
            ) from None
        except TransportError as e:
            raise ConnectionDropped(
                f"error reading from {ep.host}: {e.message}", host=ep.host
            ) from None

    def _media_type(self, resp: Response, body: bytes, ref: Reference) -> str:
        header = resp.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            doc: Any = json.loads(body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise RegistryRejected(f"invalid manifest for {ref.familiar()}: not a JSON object")
        raw_field = doc.get("mediaType")
        field = raw_field if isinstance(raw_field, str) else ""
        if doc.get("schemaVersion") == 1 or media.is_schema1(header) or media.is_schema1(field):
            mt = (
                field
                if media.is_schema1(field)
                else (header if media.is_schema1(header) else media.DOCKER_SCHEMA1_SIGNED)
            )
            raise UnsupportedMediaType(
                f"unsupported manifest media type {mt} for {ref.familiar()}: Docker image "
                "manifest version 2, schema 1 is no longer supported; suggest the author of "
                f"{ref} to upgrade the image to the OCI format or Docker image manifest v2, "
                "schema 2",
                mt,
            )
        known = media.INDEX_TYPES | media.MANIFEST_TYPES
        if header in known:
            return header
        if field in known:
            return field
        generic = ("", "application/json", "text/plain", "application/octet-stream")
        if header in generic and not field:
            if isinstance(doc.get("manifests"), list):
                return media.OCI_INDEX
            if isinstance(doc.get("layers"), list) and isinstance(doc.get("config"), dict):
                return media.OCI_MANIFEST
        mt = field or header or "(none)"
        raise UnsupportedMediaType(
            f"unsupported manifest media type {mt} for {ref.familiar()}: not an image "
            "manifest or index",
            mt,
        )

    def _verify_manifest(
        self, body: bytes, resp: Response, expected: str | None, ref: Reference, ep: Endpoint
    ) -> str:
        digest = digest_with(body, expected) if expected else sha256_digest(body)
        if expected and digest != expected:
            raise DigestMismatch(
                f"digest mismatch for {ref.familiar()} from {ep.host}: expected {expected}, "
                f"got {digest}",
                expected=expected,
                actual=digest,
            )
        announced = resp.headers.get("Docker-Content-Digest", "").strip()
        if announced:
            actual = digest_with(body, announced)
            if actual != announced:
                raise DigestMismatch(
                    f"digest mismatch for {ref.familiar()} from {ep.host}: the registry "
                    f"announced {announced}, the content is {actual}",
                    expected=announced,
                    actual=actual,
                )
        return digest

    def _error(
        self,
        resp: Response,
        ref: Reference | None,
        ep: Endpoint,
        what: str,
        push: bool = False,
    ) -> PynerdError:
        """The typed error for a failed answer, phrased like Docker's."""
        try:
            body = resp.read(limit=1 << 16) if resp.status != 204 else b""
        except (ValueError, TransportError):
            body = b""
        status = resp.status
        text = describe(body, status, resp.reason)
        codes = error_codes(body)
        host = ref.domain if ref else ep.host
        login = "pynerd login" if host == hosts.DOCKER_HUB else f"pynerd login {host}"
        name = ref.familiar_name if ref else host
        if status in (401, 403) or "DENIED" in codes or "UNAUTHORIZED" in codes:
            if push:
                msg = f"push access denied for {name}: {text}; run '{login}'"
            else:
                msg = (
                    f"pull access denied for {name}, repository does not exist or may "
                    f"require authentication: {text}; run '{login}'"
                )
            return Unauthorized(msg, status=status, codes=codes)
        if status == 404:
            if ref is not None and "NAME_UNKNOWN" in codes:
                return RegistryNotFound(f"repository {name} not found: {text}", status, codes)
            if ref is not None and what.startswith("manifest"):
                return RegistryNotFound(
                    f"manifest for {ref.familiar()} not found: {text}", status, codes
                )
            return RegistryNotFound(f"{what} not found: {text}", status, codes)
        if status in RETRY_STATUSES:
            return RegistryUnavailable(
                f"registry {ep.host} failed: {text} ({_method_url(resp)})",
                host=ep.host,
                status=status,
                codes=codes,
            )
        return RegistryRejected(f"{what}: {text}", status=status, codes=codes)

    def _head_blob(
        self, ep: Endpoint, ref: Reference, digest: str, cred_host: str, scopes: Sequence[str]
    ) -> int | None:
        resp = self._request(
            ep, "HEAD", self._url(ep, ref, "blobs", digest), cred_host=cred_host, scopes=scopes
        )
        resp.close()
        if resp.status == 200:
            length = resp.headers.get("Content-Length", "")
            return int(length) if length.isdigit() else 0
        if resp.status == 404:
            return None
        raise self._error(resp, ref, ep, what=f"blob {digest} of {ref.familiar_name}", push=True)

    def _cancel_upload(
        self, ep: Endpoint, location: str, cred_host: str, scopes: Sequence[str]
    ) -> None:
        # Best effort: an abandoned upload is purged by the registry eventually.
        with contextlib.suppress(PynerdError):
            self._request(ep, "DELETE", location, cred_host=cred_host, scopes=scopes).close()

    def _upload_chunks(
        self,
        ep: Endpoint,
        ref: Reference,
        digest: str,
        size: int,
        open_data: Callable[[], BinaryIO],
        location: str,
        cred_host: str,
        scopes: Sequence[str],
    ) -> Response:
        with open_data() as f:
            offset = 0
            while offset < size:
                data = f.read(min(self.chunk_size, size - offset))
                if not data:
                    raise InvalidArgument(
                        f"blob {digest}: data ended after {offset} of {size} bytes"
                    )
                resp = self._request(
                    ep,
                    "PATCH",
                    location,
                    cred_host=cred_host,
                    scopes=scopes,
                    body=data,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + len(data) - 1}",
                        "Content-Length": str(len(data)),
                    },
                    timeout=(15.0, 300.0),
                )
                resp.close()
                if resp.status != 202 or not resp.headers.get("Location"):
                    raise self._error(resp, ref, ep, what=f"upload of blob {digest}", push=True)
                location = urljoin(resp.url, resp.headers["Location"])
                offset += len(data)
        return self._request(
            ep,
            "PUT",
            _with_query(location, digest=digest),
            cred_host=cred_host,
            scopes=scopes,
            body=b"",
            headers={"Content-Length": "0"},
        )

    def _login_challenge(self, ep: Endpoint, resp: Response, creds: Credentials) -> None:
        url = self._api(ep) + "/"
        challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        failed = f"login attempt to {url} failed with status: 401 Unauthorized"
        tls = ep.tls() if url.startswith("https://") else None
        if bearer is not None:
            try:
                token, _ = self.auth.fetch_token(bearer, [], creds, tls, offline=True)
            except Unauthorized:
                raise Unauthorized(failed) from None
            authorization = f"Bearer {token}"
        elif basic is not None:
            raw = f"{creds.username}:{creds.password}".encode()
            import base64

            authorization = "Basic " + base64.b64encode(raw).decode()
        else:
            raise Unauthorized(f"{failed} (no supported authentication scheme offered)")
        check = self._attempt(
            lambda: Request(
                "GET", url, {**dict(ep.headers), "Authorization": authorization}, tls=tls
            )
        )
        check.close()
        if check.status != 200:
            raise Unauthorized(
                f"login attempt to {url} failed with status: {check.status} {check.reason}"
            )


def _refused(e: Unauthorized, url: str) -> Response:
    """The token server said no: answer as the registry would have, so the caller phrases the
    error with its own context (``pull access denied for …``)."""
    body = json.dumps({"errors": [{"code": "", "message": e.message}]}).encode()
    return Response(e.status or 401, {"Content-Type": "application/json"}, body, url=url)


def _unreachable(req: Request, e: TransportError) -> RegistryUnavailable:
    host = urlsplit(req.url).netloc
    err = RegistryUnavailable(
        f"cannot reach {host}: {e.message} ({req.method} {_strip_query(req.url)})", host=host
    )
    err.transport_kind = e.kind
    return err


def _method_url(resp: Response) -> str:
    return _strip_query(resp.url)


def _strip_query(url: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path, "", ""))


def _origin(url: str) -> tuple[str, str]:
    p = urlsplit(url)
    return p.scheme, p.netloc


def _with_query(url: str, **params: str) -> str:
    p = urlsplit(url)
    query = parse_qsl(p.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((p.scheme, p.netloc, p.path, urlencode(query), p.fragment))


def _close_body(body: Body) -> None:
    close = getattr(body, "close", None)
    if callable(close) and not isinstance(body, (bytes, bytearray)):
        close()


def _next_link(header: str, base: str) -> str | None:
    for part in header.split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return urljoin(base, url.strip().strip("<>"))
    return None
