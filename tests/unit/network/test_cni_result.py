"""CNI result parsing and conversion between spec versions (libcni's GetAsVersion)."""

from __future__ import annotations

from typing import Any

import pytest

from pynerd.network.cni.errors import CNIError
from pynerd.network.cni.result import Result

V100: dict[str, Any] = {
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "br0", "mac": "00:11:22:33:44:55", "mtu": 1500},
        {"name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/run/netns/a"},
    ],
    "ips": [
        {"interface": 1, "address": "10.244.1.2/24", "gateway": "10.244.1.1"},
        {"interface": 1, "address": "fd00::2/64", "gateway": "fd00::1"},
        {"interface": 1, "address": "10.244.9.9/24"},
    ],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}, {"dst": "::/0"}],
    "dns": {"nameservers": ["10.244.1.1"], "domain": "d", "search": ["s"], "options": ["o"]},
}


def test_1_0_round_trips() -> None:
    assert Result.from_dict(V100).to_dict() == V100


def test_1_0_to_0_4_adds_the_ip_family_and_drops_1_0_interface_fields() -> None:
    out = Result.from_dict(V100).to_dict("0.4.0")
    assert out["cniVersion"] == "0.4.0"
    assert out["interfaces"][0] == {"name": "br0", "mac": "00:11:22:33:44:55"}
    assert [ip["version"] for ip in out["ips"]] == ["4", "6", "4"]
    assert out["ips"][0] == {
        "version": "4",
        "interface": 1,
        "address": "10.244.1.2/24",
        "gateway": "10.244.1.1",
    }
    back = Result.from_dict(out).to_dict("1.0.0")
    assert back["ips"] == V100["ips"]


@pytest.mark.parametrize("ver", ["0.3.0", "0.3.1", "0.4.0"])
def test_0_3_and_0_4_results_are_read(ver: str) -> None:
    r = Result.from_dict(
        {
            "cniVersion": ver,
            "ips": [{"version": "4", "address": "10.0.0.2/8", "interface": 0}],
            "interfaces": [{"name": "eth0", "sandbox": "/n"}],
        }
    )
    assert r.cni_version == ver
    assert [ip.ip for ip in r.ips_of("eth0", "/n")] == ["10.0.0.2"]
    assert r.ips_of("eth0", "/other") == []


def test_0_2_results_are_upconverted() -> None:
    r = Result.from_dict(
        {
            "cniVersion": "0.2.0",
            "ip4": {
                "ip": "10.1.0.5/16",
                "gateway": "10.1.0.1",
                "routes": [{"dst": "0.0.0.0/0"}],
            },
            "ip6": {"ip": "fd00::5/64"},
            "dns": {"nameservers": ["8.8.8.8"]},
        }
    )
    assert r.to_dict("1.0.0") == {
        "cniVersion": "1.0.0",
        "ips": [{"address": "10.1.0.5/16", "gateway": "10.1.0.1"}, {"address": "fd00::5/64"}],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dns": {"nameservers": ["8.8.8.8"]},
    }


def test_down_to_0_2_keeps_the_first_ip_of_each_family_and_splits_routes() -> None:
    out = Result.from_dict(V100).to_dict("0.2.0")
    assert out == {
        "cniVersion": "0.2.0",
        "ip4": {
            "ip": "10.244.1.2/24",
            "gateway": "10.244.1.1",
            "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}],
        },
        "ip6": {"ip": "fd00::2/64", "gateway": "fd00::1", "routes": [{"dst": "::/0"}]},
        "dns": V100["dns"],
    }


def test_0_2_needs_an_address() -> None:
    with pytest.raises(CNIError, match="no valid IP addresses"):
        Result.from_dict({"cniVersion": "1.0.0"}).to_dict("0.2.0")


def test_dns_is_always_present_from_0_3_on() -> None:
    assert Result.from_dict({"cniVersion": "1.0.0"}).to_dict() == {
        "cniVersion": "1.0.0",
        "dns": {},
    }


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([], "expected a JSON object"),
        ({"cniVersion": "2.0.0"}, "unsupported CNI result version '2.0.0'"),
        ({}, "unsupported CNI result version ''"),
        ({"cniVersion": "1.0.0", "ips": [{"gateway": "x"}]}, "invalid CNI 1.0.0 result"),
        ({"cniVersion": "1.0.0", "ips": [{"address": 5}]}, "invalid CNI 1.0.0 result"),
        (
            {"cniVersion": "1.0.0", "ips": [{"address": "1.2.3.4/32", "interface": "0"}]},
            "integer index",
        ),
        ({"cniVersion": "1.0.0", "interfaces": [{"mac": "x"}]}, "invalid CNI 1.0.0 result"),
        ({"cniVersion": "1.0.0", "dns": []}, "dns must be an object"),
        ({"cniVersion": "1.0.0", "dns": {"search": "x"}}, "list of strings"),
    ],
)
def test_malformed_results_are_cni_errors(data: Any, match: str) -> None:
    with pytest.raises(CNIError, match=match):
        Result.from_dict(data)


def test_conversion_to_an_unknown_version_fails() -> None:
    with pytest.raises(CNIError, match="unsupported version"):
        Result.from_dict(V100).to_dict("1.1.0")
