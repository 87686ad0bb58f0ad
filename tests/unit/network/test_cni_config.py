"""Loading CNI network configuration files: libcni's file, ordering and validation rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pynerd.errors import ConfigError, NotFound
from pynerd.network.cni.config import load, load_all, load_file, parse_list, parse_single
from pynerd.network.cni.errors import NetworkConfigError


def conflist(name: str = "net1", version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    return {
        "cniVersion": version,
        "name": name,
        "plugins": [
            {"type": "bridge", "bridge": "br0", "ipam": {"type": "host-local"}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
        **extra,
    }


def write(directory: Path, filename: str, obj: Any) -> Path:
    path = directory / filename
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_conflist_is_loaded_with_its_raw_bytes_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, "10-net1.conflist", conflist())
    net = load_file(path)
    assert (net.name, net.cni_version, net.path) == ("net1", "1.0.0", path)
    assert [p["type"] for p in net.plugins] == ["bridge", "portmap"]
    assert net.raw == path.read_bytes()
    assert net.disable_check is False


@pytest.mark.parametrize("ext", [".conf", ".json"])
def test_single_conf_is_wrapped_into_a_list_as_libcni_does(tmp_path: Path, ext: str) -> None:
    single = {"cniVersion": "0.4.0", "name": "solo", "type": "bridge", "bridge": "br1"}
    net = load_file(write(tmp_path, "solo" + ext, single))
    assert (net.name, net.cni_version) == ("solo", "0.4.0")
    assert net.plugins == [single]
    assert json.loads(net.raw) == {"name": "solo", "cniVersion": "0.4.0", "plugins": [single]}


def test_load_all_maps_names_and_skips_other_files(tmp_path: Path) -> None:
    write(tmp_path, "a.conflist", conflist("a"))
    write(tmp_path, "b.conf", {"cniVersion": "1.0.0", "name": "b", "type": "bridge"})
    write(tmp_path, "c.json", {"cniVersion": "1.0.0", "name": "c", "type": "macvlan"})
    write(tmp_path, "notes.txt", "not json")
    write(tmp_path, ".tmp-d.conflist.1.abcd", "half-written")
    write(tmp_path, ".hidden.conflist", "{")
    (tmp_path / "dir.conflist").mkdir()
    assert sorted(load_all(tmp_path)) == ["a", "b", "c"]


def test_missing_directory_holds_no_networks(tmp_path: Path) -> None:
    assert load_all(tmp_path / "nope") == {}
    with pytest.raises(NotFound, match="network x not found"):
        load(tmp_path / "nope", "x")


def test_first_conflist_in_lexical_order_wins_a_duplicate_name(tmp_path: Path) -> None:
    write(tmp_path, "20-dup.conflist", conflist("dup", "0.4.0"))
    write(tmp_path, "10-dup.conflist", conflist("dup", "1.0.0"))
    assert load_all(tmp_path)["dup"].cni_version == "1.0.0"
    assert load(tmp_path, "dup").path == tmp_path / "10-dup.conflist"


def test_conflist_beats_a_single_conf_of_the_same_name(tmp_path: Path) -> None:
    write(tmp_path, "00-dup.conf", {"cniVersion": "0.3.1", "name": "dup", "type": "macvlan"})
    write(tmp_path, "99-dup.conflist", conflist("dup"))
    assert load_all(tmp_path)["dup"].path == tmp_path / "99-dup.conflist"
    assert load(tmp_path, "dup").plugins[0]["type"] == "bridge"


def test_load_finds_a_single_conf_after_the_lists(tmp_path: Path) -> None:
    write(tmp_path, "a.conflist", conflist("a"))
    write(tmp_path, "z.conf", {"cniVersion": "1.0.0", "name": "z", "type": "ipvlan"})
    assert load(tmp_path, "z").plugins[0]["type"] == "ipvlan"
    with pytest.raises(NotFound, match="network other not found"):
        load(tmp_path, "other")


def test_an_invalid_file_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path, "a.conflist", conflist("a"))
    bad = write(tmp_path, "b.conflist", "{not json")
    with pytest.raises(NetworkConfigError) as info:
        load_all(tmp_path)
    assert str(bad) in str(info.value)
    assert info.value.path == bad
    # libcni's LoadConfList stops at the first invalid list before the match, too.
    with pytest.raises(NetworkConfigError):
        load(tmp_path, "zzz")
    assert load(tmp_path, "a").name == "a"  # found before the bad file


BAD_LISTS = [
    ("[1, 2]", "expected a JSON object"),
    ({"cniVersion": "1.0.0", "plugins": [{"type": "x"}]}, "missing 'name'"),
    ({"name": 5, "cniVersion": "1.0.0", "plugins": [{"type": "x"}]}, "'name' must be a string"),
    ({"name": "a/b", "cniVersion": "1.0.0", "plugins": [{"type": "x"}]}, "invalid network name"),
    ({"name": "-a", "cniVersion": "1.0.0", "plugins": [{"type": "x"}]}, "invalid network name"),
    ({"name": "n", "plugins": [{"type": "x"}]}, "missing 'cniVersion'"),
    ({"name": "n", "cniVersion": "1.0", "plugins": [{"type": "x"}]}, "invalid cniVersion"),
    ({"name": "n", "cniVersion": 1, "plugins": [{"type": "x"}]}, "invalid cniVersion"),
    ({"name": "n", "cniVersion": "1.0.0"}, "no 'plugins' key"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": {}}, "'plugins' must be a list"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": []}, "no plugins in list"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": [{"bridge": "x"}]}, "plugin 0: missing"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": [{"type": "x"}, 3]}, "plugin 1: expected"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": [{"type": "../sh"}]}, "invalid 'type'"),
    (
        {"name": "n", "cniVersion": "1.0.0", "plugins": [{"type": "x", "capabilities": []}]},
        "'capabilities' must map",
    ),
    (
        {"name": "n", "cniVersion": "1.0.0", "disableCheck": "yes", "plugins": [{"type": "x"}]},
        "invalid value 'yes' for 'disableCheck'",
    ),
]


@pytest.mark.parametrize(("content", "problem"), BAD_LISTS)
def test_invalid_lists_are_rejected_with_the_reason(
    tmp_path: Path, content: Any, problem: str
) -> None:
    path = write(tmp_path, "bad.conflist", content)
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert problem in str(info.value)
    assert str(info.value).startswith(f"invalid CNI network configuration {path}: ")


def test_invalid_single_conf_needs_a_type(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.conf", {"cniVersion": "1.0.0", "name": "n"})
    with pytest.raises(NetworkConfigError, match="config: missing 'type'"):
        load_file(path)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "dangling.conflist"
    path.symlink_to(tmp_path / "missing")
    with pytest.raises(NetworkConfigError, match="cannot read"):
        load_file(path)


def test_disable_check_accepts_libcni_string_booleans() -> None:
    raw = json.dumps(conflist(disableCheck="True")).encode()
    assert parse_list(raw).disable_check is True
    assert parse_list(json.dumps(conflist(disableCheck=False)).encode()).disable_check is False


def test_parse_from_bytes_names_no_file() -> None:
    with pytest.raises(NetworkConfigError, match="<config>: invalid JSON"):
        parse_single(b"{")
