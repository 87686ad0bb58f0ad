from __future__ import annotations

from pathlib import Path

import pytest

from pynerd.config import Config, load
from pynerd.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pynerd.toml"
    p.write_text(text)
    return p


def test_defaults_without_file_env_or_flags() -> None:
    cfg = load({}, {"PYNERD_TOML": ""})
    assert cfg == Config()
    assert cfg.data_root == Path("/var/lib/pynerd")
    assert cfg.namespace_root == Path("/var/lib/pynerd/namespaces/default")
    assert cfg.cni_path == ("/usr/lib/cni", "/opt/cni/bin")


def test_precedence_flag_over_env_over_file_over_default(tmp_path: Path) -> None:
    toml = write(tmp_path, 'data_root = "/file"\nnamespace = "fromfile"\nsnapshotter = "native"\n')
    env = {"PYNERD_TOML": str(toml), "PYNERD_DATA_ROOT": "/env", "PYNERD_NAMESPACE": "fromenv"}
    cfg = load({"data_root": "/flag"}, env)
    assert cfg.data_root == Path("/flag")  # flag beats env and file
    assert cfg.namespace == "fromenv"  # env beats file
    assert cfg.snapshotter == "native"  # file beats default
    assert cfg.run_root == Path("/run/pynerd")  # default
    assert cfg.config_file == toml


def test_unset_flags_do_not_override() -> None:
    cfg = load(
        {"data_root": None, "insecure_registries": None, "debug": None},
        {"PYNERD_TOML": "", "PYNERD_DATA_ROOT": "/env", "PYNERD_DEBUG": "1"},
    )
    assert cfg.data_root == Path("/env")
    assert cfg.debug is True


def test_lists_from_file_env_and_repeated_flags(tmp_path: Path) -> None:
    toml = write(tmp_path, 'cni_path = ["/a", "/b"]\ninsecure_registries = ["r1:5000"]\n')
    assert load({}, {"PYNERD_TOML": str(toml)}).cni_path == ("/a", "/b")
    env = {
        "PYNERD_TOML": str(toml),
        "PYNERD_CNI_PATH": "/x:/y",
        "PYNERD_INSECURE_REGISTRY": "a:1, b:2",
    }
    cfg = load({}, env)
    assert cfg.cni_path == ("/x", "/y")
    assert cfg.insecure_registries == ("a:1", "b:2")
    cfg = load({"insecure_registries": ["f:1", "g:2"], "cni_path": "/p:/q"}, env)
    assert cfg.insecure_registries == ("f:1", "g:2")
    assert cfg.cni_path == ("/p", "/q")


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    toml = write(tmp_path, 'data_root = "/x"\ndata_rot = "/typo"\n')
    with pytest.raises(ConfigError) as e:
        load({}, {"PYNERD_TOML": str(toml)})
    assert "'data_rot'" in str(e.value)
    assert str(toml) in str(e.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("namespace = 3\n", "expected a string"),
        ('debug = "yes"\n', "expected true or false"),
        ("cni_path = [1]\n", "list of strings"),
        ("data_root = \n", "invalid TOML"),
    ],
)
def test_bad_values_are_clear(tmp_path: Path, text: str, needle: str) -> None:
    toml = write(tmp_path, text)
    with pytest.raises(ConfigError, match=needle):
        load({}, {"PYNERD_TOML": str(toml)})


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load({}, {"PYNERD_TOML": str(tmp_path / "nope.toml")})


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        ({"namespace": "bad/ns"}, "invalid namespace"),
        ({"namespace": "-x"}, "invalid namespace"),
        ({"snapshotter": "zfs"}, "unknown snapshotter"),
        ({"data_root": "relative/dir"}, "absolute path"),
    ],
)
def test_validation(flags: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load(flags, {"PYNERD_TOML": ""})


def test_bad_boolean_in_environment() -> None:
    with pytest.raises(ConfigError, match="PYNERD_DEBUG"):
        load({}, {"PYNERD_TOML": "", "PYNERD_DEBUG": "maybe"})
