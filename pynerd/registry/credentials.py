"""Registry logins in Docker's client config, so ``docker login`` and ``pynerd login`` agree.

The file is ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``. Credentials live in
``auths`` (base64 ``auth`` = ``user:password``, or an ``identitytoken``) unless a credential
helper holds them: ``credHelpers[host]`` or ``credsStore`` name ``docker-credential-<name>``,
spoken to over stdin/stdout (``get``/``store``/``erase``) through the :class:`Runner` seam.

Docker Hub's key is ``https://index.docker.io/v1/``; other registries are keyed by
``host[:port]``, but keys written as URLs (``https://host/``) are found too. Writes replace
the file atomically with mode 0600 and keep every key pynerd does not know about.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynerd.errors import ConfigError, Unavailable
from pynerd.procs import Runner, SubprocessRunner, find_executable
from pynerd.state.atomic import atomic_write

HUB_KEY = "https://index.docker.io/v1/"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
TOKEN_USER = "<token>"  # a helper's Username for identity tokens
_HELPER_TIMEOUT = 60.0


@dataclass(frozen=True)
class Credentials:
    """A login: password credentials, or an OAuth2 refresh (identity) token."""

    username: str
    password: str = ""
    identity_token: str | None = None

    def __repr__(self) -> str:  # never print secrets in tracebacks or logs
        return f"Credentials(username={self.username!r}, password=***)"


def normalize_host(server: str) -> str:
    """``https://index.docker.io/v1/`` → ``docker.io``; ``http://h:5000/x`` → ``h:5000``."""
    s = server.strip()
    if "://" in s:
        s = s.split("://", 1)[1]
    s = s.split("/", 1)[0].lower()
    return "docker.io" if s in _HUB_ALIASES else s


def config_key(host: str) -> str:
    """The key Docker files a host's login under."""
    h = normalize_host(host)
    return HUB_KEY if h == "docker.io" else h


def default_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".docker"


class CredentialStore:
    """``get``/``store``/``erase`` of registry logins in Docker's config.json or its helpers."""

    def __init__(
        self,
        config_dir: Path | None = None,
        runner: Runner | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._env = dict(os.environ if environ is None else environ)
        self.config_dir = config_dir or default_config_dir(self._env)
        self.runner: Runner = runner or SubprocessRunner()

    @property
    def path(self) -> Path:
        return self.config_dir / "config.json"

    # -- public ------------------------------------------------------------------------------
    def get(self, host: str) -> Credentials | None:
        doc = self._load()
        key = config_key(host)
        helper = self._helper_for(doc, key)
        if helper:
            creds = self._helper_get(helper, key)
            if creds is not None:
                return creds
        found = self._find_entry(doc, key)
        return _decode_entry(found[1], self.path) if found else None

    def store(self, host: str, username: str, secret: str) -> None:
        doc = self._load()
        key = config_key(host)
        auths = _auths(doc, self.path)
        helper = self._helper_for(doc, key)
        old = self._find_entry(doc, key)
        if old is not None and old[0] != key:
            del auths[old[0]]  # a URL-form key for the same host: replace it by the plain key
        entry = dict(old[1]) if old else {}
        for k in ("auth", "username", "password", "identitytoken", "registrytoken"):
            entry.pop(k, None)
        if helper:
            self._helper_run(
                helper,
                "store",
                json.dumps({"ServerURL": key, "Username": username, "Secret": secret}).encode(),
                "storing",
            )
        elif username == TOKEN_USER:
            entry["identitytoken"] = secret
        else:
            entry["auth"] = base64.b64encode(f"{username}:{secret}".encode()).decode()
        auths[key] = entry  # with a helper: an empty entry, as Docker writes, so it is listed
        self._save(doc)

    def erase(self, host: str) -> bool:
        """Forget the login; True if there was one (in the file or the helper)."""
        doc = self._load()
        key = config_key(host)
        helper = self._helper_for(doc, key)
        removed = False
        if helper:
            removed = self._helper_get(helper, key) is not None
            if removed:
                self._helper_run(helper, "erase", key.encode(), "erasing")
        auths = doc.get("auths")
        keys = [k for k in auths if config_key(k) == key] if isinstance(auths, dict) else []
        if keys:
            assert isinstance(auths, dict)
            for k in keys:
                removed = removed or bool(auths[k])
                del auths[k]
            self._save(doc)
        return removed

    # -- file --------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise ConfigError(f"cannot read {self.path}: {e.strerror}") from None
        if not data.strip():
            return {}
        try:
            doc = json.loads(data)
        except ValueError as e:
            raise ConfigError(f"invalid JSON in {self.path}: {e}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"invalid {self.path}: not a JSON object")
        return doc

    def _save(self, doc: dict[str, Any]) -> None:
        path = self.path
        if path.is_symlink():
            path = path.resolve()  # keep a dotfiles symlink pointing at the real file
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(path, json.dumps(doc, indent="\t").encode() + b"\n", mode=0o600)

    def _find_entry(self, doc: dict[str, Any], key: str) -> tuple[str, dict[str, Any]] | None:
        auths = doc.get("auths")
        if not isinstance(auths, dict):
            return None
        if isinstance(auths.get(key), dict):
            return key, auths[key]
        for k, v in auths.items():
            if isinstance(v, dict) and config_key(k) == key:
                return k, v
        return None

    # -- helpers -----------------------------------------------------------------------------
    def _helper_for(self, doc: dict[str, Any], key: str) -> str | None:
        helpers = doc.get("credHelpers")
        if isinstance(helpers, dict):
            for k, v in helpers.items():
                if isinstance(v, str) and v and config_key(k) == key:
                    return v
        store = doc.get("credsStore")
        return store if isinstance(store, str) and store else None

    def _helper_get(self, helper: str, key: str) -> Credentials | None:
        out = self._helper_run(helper, "get", key.encode(), "getting", missing_ok=True)
        if out is None:
            return None
        try:
            reply = json.loads(out)
            username, secret = str(reply.get("Username", "")), str(reply.get("Secret", ""))
        except (ValueError, AttributeError):
            raise Unavailable(
                f"error getting credentials - err: invalid reply from docker-credential-{helper}"
            ) from None
        if not secret:
            return None
        if username == TOKEN_USER:
            return Credentials(username="", identity_token=secret)
        return Credentials(username=username, password=secret)

    def _helper_run(
        self, helper: str, action: str, stdin: bytes, verb: str, missing_ok: bool = False
    ) -> bytes | None:
        program = f"docker-credential-{helper}"
        exe = find_executable(program, self._env.get("PATH", os.defpath).split(os.pathsep))
        if exe is None:
            raise Unavailable(
                f'error {verb} credentials - err: exec: "{program}": '
                "executable file not found in $PATH"
            )
        try:
            res = self.runner.run(
                [exe, action], input=stdin, env=self._env, timeout=_HELPER_TIMEOUT
            )
        except Exception as e:  # TimeoutExpired, OSError from a broken helper
            raise Unavailable(f"error {verb} credentials - err: {e}") from None
        if res.returncode != 0:
            out = (res.stdout or res.stderr).decode(errors="replace").strip()
            if missing_ok and "credentials not found" in out.lower():
                return None
            raise Unavailable(
                f"error {verb} credentials - err: exit status {res.returncode}, out: `{out}`"
            )
        return res.stdout


def _auths(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    auths = doc.setdefault("auths", {})
    if not isinstance(auths, dict):
        raise ConfigError(f"invalid {path}: 'auths' is not an object")
    return auths


def _decode_entry(entry: dict[str, Any], path: Path) -> Credentials | None:
    token = entry.get("identitytoken")
    username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=False).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ConfigError(f"invalid auth entry in {path}: not base64 user:password") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise ConfigError(f"invalid auth entry in {path}: not base64 user:password")
    if isinstance(token, str) and token:
        return Credentials(username=username, password="", identity_token=token)
    if not username and not password:
        return None
    return Credentials(username=username, password=password)


def logout(server: str, store: CredentialStore | None = None) -> tuple[str, bool]:
    """Forget the login for ``server``; returns Docker's key for it and whether one existed."""
    host = normalize_host(server)
    return config_key(host), (store or CredentialStore()).erase(host)
