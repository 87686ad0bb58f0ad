"""Docker's config.json logins and docker-credential-* helpers."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pynerd.errors import ConfigError, Unavailable
from pynerd.procs import Completed
from pynerd.registry.credentials import (
    HUB_KEY,
    Credentials,
    CredentialStore,
    config_key,
    default_config_dir,
    normalize_host,
)


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def write_config(d: Path, doc: dict[str, object]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    path = d / "config.json"
    path.write_text(json.dumps(doc))
    return path


class FakeRunner:
    """A docker-credential helper in memory: records calls, keeps a dict of secrets."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], bytes | None]] = []
        self.secrets: dict[str, tuple[str, str]] = {}
        self.fail: int = 0

    def run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        timeout: float | None = None,
    ) -> Completed:
        self.calls.append((tuple(args), input))
        action = args[-1]
        if self.fail:
            return Completed(tuple(args), self.fail, b"boom", b"")
        if action == "get":
            key = (input or b"").decode()
            if key not in self.secrets:
                return Completed(tuple(args), 1, b"credentials not found in native keychain\n",
                                 b"")
            user, secret = self.secrets[key]
            out = json.dumps({"ServerURL": key, "Username": user, "Secret": secret}).encode()
            return Completed(tuple(args), 0, out, b"")
        if action == "store":
            doc = json.loads(input or b"{}")
            self.secrets[doc["ServerURL"]] = (doc["Username"], doc["Secret"])
            return Completed(tuple(args), 0, b"", b"")
        if action == "erase":
            self.secrets.pop((input or b"").decode(), None)
            return Completed(tuple(args), 0, b"", b"")
        return Completed(tuple(args), 2, b"", b"unknown action")


@pytest.fixture
def helper_path(tmp_path: Path) -> Path:
    """A PATH dir with an (unused by FakeRunner) docker-credential-fake executable."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "docker-credential-fake"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    return bindir


@pytest.mark.parametrize(
    ("server", "host", "key"),
    [
        ("docker.io", "docker.io", HUB_KEY),
        ("index.docker.io", "docker.io", HUB_KEY),
        ("registry-1.docker.io", "docker.io", HUB_KEY),
        ("https://index.docker.io/v1/", "docker.io", HUB_KEY),
        ("127.0.0.1:5000", "127.0.0.1:5000", "127.0.0.1:5000"),
        ("http://127.0.0.1:5000/", "127.0.0.1:5000", "127.0.0.1:5000"),
        ("https://Registry.LAN/v2/", "registry.lan", "registry.lan"),
    ],
)
def test_host_normalization(server: str, host: str, key: str) -> None:
    assert normalize_host(server) == host
    assert config_key(server) == key


def test_config_dir_from_environment(tmp_path: Path) -> None:
    assert default_config_dir({"DOCKER_CONFIG": str(tmp_path)}) == tmp_path
    assert default_config_dir({"HOME": "/home/u"}) == Path("/home/u/.docker")
    store = CredentialStore(environ={"DOCKER_CONFIG": str(tmp_path)})
    assert store.path == tmp_path / "config.json"


def test_missing_file_means_no_credentials(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "none")
    assert store.get("docker.io") is None
    assert store.erase("docker.io") is False
    assert not (tmp_path / "none").exists()


def test_reads_docker_auth_entries(tmp_path: Path) -> None:
    write_config(tmp_path, {"auths": {
        HUB_KEY: {"auth": b64("hubuser:hubpass")},
        "https://registry.lan:5000": {"auth": b64("u:p:with:colons")},
        "token.lan": {"identitytoken": "refresh-123", "auth": b64("tokuser:")},
        "empty.lan": {},
    }})
    store = CredentialStore(tmp_path)
    assert store.get("docker.io") == Credentials("hubuser", "hubpass")
    assert store.get("index.docker.io") == Credentials("hubuser", "hubpass")
    assert store.get("registry.lan:5000") == Credentials("u", "p:with:colons")
    creds = store.get("token.lan")
    assert creds is not None and creds.identity_token == "refresh-123"
    assert creds.username == "tokuser"
    assert store.get("empty.lan") is None
    assert store.get("other.lan") is None
    assert "hubpass" not in repr(store.get("docker.io"))


def test_store_keeps_unknown_keys_and_writes_0600_atomically(tmp_path: Path) -> None:
    path = write_config(tmp_path, {
        "auths": {"other.lan": {"auth": b64("a:b"), "email": "x@y"}},
        "psFormat": "table {{.ID}}",
        "plugins": {"foo": {"bar": 1}},
    })
    os.chmod(path, 0o644)
    store = CredentialStore(tmp_path)
    store.store("127.0.0.1:5000", "me", "pw")
    store.store("docker.io", "hub", "secret")
    doc = json.loads(path.read_text())
    assert doc["psFormat"] == "table {{.ID}}" and doc["plugins"] == {"foo": {"bar": 1}}
    assert doc["auths"]["other.lan"] == {"auth": b64("a:b"), "email": "x@y"}
    assert doc["auths"]["127.0.0.1:5000"] == {"auth": b64("me:pw")}
    assert doc["auths"][HUB_KEY] == {"auth": b64("hub:secret")}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temp file left
    assert store.get("127.0.0.1:5000") == Credentials("me", "pw")


def test_store_replaces_a_url_form_key_and_an_identity_token(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"auths": {
        "https://registry.lan/": {"identitytoken": "old", "email": "keep@me"},
    }})
    CredentialStore(tmp_path).store("registry.lan", "u", "p")
    assert json.loads(path.read_text())["auths"] == {
        "registry.lan": {"email": "keep@me", "auth": b64("u:p")}
    }


def test_store_creates_the_directory_private(tmp_path: Path) -> None:
    d = tmp_path / "new" / ".docker"
    CredentialStore(d).store("r.lan", "u", "p")
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE((d / "config.json").stat().st_mode) == 0o600


def test_store_through_a_symlinked_config_keeps_the_link(tmp_path: Path) -> None:
    real = write_config(tmp_path / "dotfiles", {"auths": {}})
    d = tmp_path / ".docker"
    d.mkdir()
    (d / "config.json").symlink_to(real)
    CredentialStore(d).store("r.lan", "u", "p")
    assert (d / "config.json").is_symlink()
    assert json.loads(real.read_text())["auths"]["r.lan"] == {"auth": b64("u:p")}


def test_erase(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"auths": {"r.lan": {"auth": b64("u:p")}, "x": {}}, "k": 1})
    store = CredentialStore(tmp_path)
    assert store.erase("r.lan") is True
    assert json.loads(path.read_text()) == {"auths": {"x": {}}, "k": 1}
    assert store.erase("r.lan") is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON in"),
        ("[]", "not a JSON object"),
        ('{"auths": {"r.lan": {"auth": "bm9jb2xvbg=="}}}', "invalid auth entry"),
    ],
)
def test_corrupt_config_is_a_config_error(tmp_path: Path, content: str, message: str) -> None:
    tmp_path.joinpath("config.json").write_text(content)
    with pytest.raises(ConfigError) as exc:
        CredentialStore(tmp_path).get("r.lan")
    assert message in str(exc.value) and str(tmp_path / "config.json") in str(exc.value)


def test_creds_store_helper_via_runner(tmp_path: Path, helper_path: Path) -> None:
    path = write_config(tmp_path, {"credsStore": "fake", "auths": {}})
    runner = FakeRunner()
    store = CredentialStore(tmp_path, runner=runner, environ={"PATH": str(helper_path)})
    assert store.get("docker.io") is None
    assert runner.calls[0] == ((str(helper_path / "docker-credential-fake"), "get"),
                               HUB_KEY.encode())
    store.store("docker.io", "hub", "s3")
    assert runner.secrets[HUB_KEY] == ("hub", "s3")
    # Docker leaves an empty entry in the file so the login is listed; no secret on disk.
    assert json.loads(path.read_text())["auths"] == {HUB_KEY: {}}
    assert store.get("docker.io") == Credentials("hub", "s3")
    assert store.erase("docker.io") is True
    assert runner.secrets == {}
    assert json.loads(path.read_text())["auths"] == {}


def test_cred_helpers_override_the_store_per_host(tmp_path: Path, helper_path: Path) -> None:
    write_config(tmp_path, {
        "credHelpers": {"registry.lan": "fake"},
        "auths": {"other.lan": {"auth": b64("o:p")}},
    })
    runner = FakeRunner()
    runner.secrets["registry.lan"] = ("<token>", "id-token")
    store = CredentialStore(tmp_path, runner=runner, environ={"PATH": str(helper_path)})
    creds = store.get("registry.lan")
    assert creds is not None and creds.identity_token == "id-token"
    assert store.get("other.lan") == Credentials("o", "p")
    assert len(runner.calls) == 1  # other.lan did not ask the helper


def test_helper_errors_are_reported_like_docker(tmp_path: Path, helper_path: Path) -> None:
    write_config(tmp_path, {"credsStore": "fake"})
    runner = FakeRunner()
    runner.fail = 3
    store = CredentialStore(tmp_path, runner=runner, environ={"PATH": str(helper_path)})
    with pytest.raises(Unavailable, match=r"error getting credentials - err: exit status 3, "
                                          r"out: `boom`"):
        store.get("r.lan")
    with pytest.raises(Unavailable, match="error storing credentials"):
        store.store("r.lan", "u", "p")


def test_missing_helper_executable(tmp_path: Path) -> None:
    write_config(tmp_path, {"credsStore": "desktop"})
    store = CredentialStore(tmp_path, runner=FakeRunner(), environ={"PATH": str(tmp_path)})
    with pytest.raises(Unavailable) as exc:
        store.get("docker.io")
    assert str(exc.value) == (
        'error getting credentials - err: exec: "docker-credential-desktop": '
        "executable file not found in $PATH"
    )


def test_real_helper_script_through_subprocess(tmp_path: Path) -> None:
    """A shell-script helper run for real: proves the stdin/stdout protocol end to end."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    db = tmp_path / "db"
    db.mkdir()
    script = bindir / "docker-credential-sh"
    script.write_text(f"""#!/bin/sh
set -e
DB={db}
read -r line || true
case "$1" in
  store) printf '%s' "$line" > "$DB/last-store" ;;
  get)
    if [ -f "$DB/last-store" ]; then
      cat "$DB/last-store"
    else
      echo "credentials not found in native keychain"; exit 1
    fi ;;
  erase) rm -f "$DB/last-store" ;;
esac
""")
    script.chmod(0o755)
    write_config(tmp_path / "cfg", {"credsStore": "sh"})
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    store = CredentialStore(tmp_path / "cfg", environ=env)
    assert store.get("r.lan") is None
    store.store("r.lan", "alice", "wonder land")
    assert store.get("r.lan") == Credentials("alice", "wonder land")
    assert store.erase("r.lan") is True
    assert store.get("r.lan") is None
