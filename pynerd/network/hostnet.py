"""Host-side plumbing of a bridge network: the bridge device and its iptables rules.

The CNI plugins configure each *container*; what belongs to the *network* is made once,
here, when the network is set up (``network create``, or the default network's first
use) and undone when it is removed — Docker's model, and what keeps a container's start
cheap: no per-container firewall or masquerade rules to add and delete.

The bridge device is made at set-up (not by the bridge plugin at the first ADD), so the
network's subnet shows up in the host's routes at once and the next network chooses
another one. ``ip`` does it in one ``ip -batch`` process.

iptables (whatever backend ``iptables`` is; Debian's is nft), all in pynerd's own chains,
jumped to from the built-in ones, each rule tagged ``pynerd:<bridge>``:

- nat ``PYNERD-POSTROUTING`` (from POSTROUTING): ``-s SUBNET ! -o BRIDGE -j MASQUERADE``
  (outbound traffic of a non-internal network);
- filter ``PYNERD-FORWARD`` (from FORWARD, first): replies to and anything from a
  non-internal bridge are accepted, so a host whose FORWARD policy is DROP (Docker sets
  that) still forwards; traffic between the containers of one bridge is accepted;
- filter ``PYNERD-ISOLATION`` (from PYNERD-FORWARD, first): leaving a bridge for another
  bridge network is dropped in two stages (``-i B ! -o B -j PYNERD-ISOLATION-2``, then
  ``-o B -j DROP`` there, Docker's scheme: one rule per network and chain, isolation for
  every pair), except traffic to a published port (``--ctstate DNAT``); an internal
  network drops everything that enters or leaves it through another interface.

Chains with no rule left are removed with their jumps, so an idle host carries nothing;
when pynerd's own chains go, so do the ``portmap`` plugin's shared ``CNI-HOSTPORT-*``
chains if no container of any tool has a port mapping in them (``CNI-HOSTPORT-DNAT``
empty): the plugin leaves them behind by design and re-creates them on its next ADD.
All changes hold a host-wide lock (``/run/lock/pynerd-iptables.lock``): the chains are
shared by every data root.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynerd.errors import PynerdError
from pynerd.procs import Runner, SubprocessRunner, find_executable

SBIN = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")
LOCK = Path("/run/lock/pynerd-iptables.lock")
NAT_CHAIN = "PYNERD-POSTROUTING"
FWD_CHAIN = "PYNERD-FORWARD"
ISO1 = "PYNERD-ISOLATION"
ISO2 = "PYNERD-ISOLATION-2"
# The portmap plugin's jumps into its shared chains (see the module doc).
PORTMAP_JUMPS = (
    ("PREROUTING", ("-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT")),
    ("OUTPUT", ("-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT")),
    (
        "POSTROUTING",
        (
            "-m",
            "comment",
            "--comment",
            "CNI portfwd requiring masquerade",
            "-j",
            "CNI-HOSTPORT-MASQ",
        ),
    ),
)
# (table, chain, parent chain it is jumped to from, insert at the top?)
CHAINS = (
    ("nat", NAT_CHAIN, "POSTROUTING", False),
    ("filter", FWD_CHAIN, "FORWARD", True),
    ("filter", ISO1, FWD_CHAIN, True),
    ("filter", ISO2, None, False),
)


class HostNetError(PynerdError):
    pass


@dataclass(frozen=True)
class BridgeSpec:
    """What a bridge network needs on the host."""

    bridge: str
    subnet: str  # CIDR
    gateway: str  # address, without prefix
    internal: bool = False
    mtu: int = 0


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


class HostNet:
    """Bridge devices and iptables rules, through a :class:`Runner` (the seam for tests)."""

    def __init__(self, runner: Runner | None = None, lock: Path = LOCK) -> None:
        self.runner: Runner = runner or SubprocessRunner()
        self.lock = lock

    # Bridge devices.

    def add_bridge(self, spec: BridgeSpec) -> None:
        prefix = spec.subnet.split("/")[1]
        mtu = f" mtu {spec.mtu}" if spec.mtu else ""
        batch = [f"link add name {spec.bridge}{mtu} type bridge"]
        if not spec.internal or spec.gateway:
            batch.append(f"addr add {spec.gateway}/{prefix} dev {spec.bridge}")
        batch.append(f"link set {spec.bridge} up")
        self._run([self._tool("ip"), "-batch", "-"], "\n".join(batch) + "\n")

    def delete_bridge(self, name: str) -> None:
        if link_exists(name):
            self._run([self._tool("ip"), "link", "del", name], check=False)

    # Firewall rules.

    def add_rules(self, spec: BridgeSpec) -> None:
        with self._locked():
            for table, chain, parent, first in CHAINS:
                self._ensure_chain(table, chain, parent, first)
            for table, chain, rule in self._rules(spec):
                if not self._has(table, chain, rule):
                    self._ipt(table, "-A", chain, *rule)

    def delete_rules(self, spec: BridgeSpec) -> None:
        with self._locked():
            for table, chain, rule in self._rules(spec):
                while self._has(table, chain, rule):
                    self._ipt(table, "-D", chain, *rule)
            for table, chain, parent, _ in reversed(CHAINS):
                self._drop_chain_if_unused(table, chain, parent)
            if self._ipt("filter", "-S", FWD_CHAIN, check=False).returncode != 0:
                self._tidy_portmap()

    def _tidy_portmap(self) -> None:
        dnat = self._ipt("nat", "-S", "CNI-HOSTPORT-DNAT", check=False)
        if dnat.returncode != 0 or b"-A CNI-HOSTPORT-DNAT" in dnat.stdout:
            return  # absent, or some container still has a port mapping
        for parent, jump in PORTMAP_JUMPS:
            while self._has("nat", parent, jump):
                self._ipt("nat", "-D", parent, *jump)
        for chain in ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"):
            self._ipt("nat", "-F", chain, check=False)
        for chain in ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"):
            self._ipt("nat", "-X", chain, check=False)

    def _rules(self, spec: BridgeSpec) -> Iterator[tuple[str, str, tuple[str, ...]]]:
        b = spec.bridge
        tag = ("-m", "comment", "--comment", f"pynerd:{b}")
        if spec.internal:
            yield "filter", ISO1, ("-i", b, "!", "-o", b, *tag, "-j", "DROP")
            yield "filter", ISO1, ("-o", b, "!", "-i", b, *tag, "-j", "DROP")
            yield "filter", FWD_CHAIN, ("-i", b, "-o", b, *tag, "-j", "ACCEPT")
            return
        yield "nat", NAT_CHAIN, ("-s", spec.subnet, "!", "-o", b, *tag, "-j", "MASQUERADE")
        yield "filter", ISO1, ("-i", b, "!", "-o", b, *tag, "-j", ISO2)
        yield "filter", ISO2, ("-o", b, "-m", "conntrack", "!", "--ctstate", "DNAT", *tag,
                               "-j", "DROP")  # fmt: skip
        yield "filter", FWD_CHAIN, (
            "-o", b, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", *tag, "-j", "ACCEPT"
        )  # fmt: skip
        yield "filter", FWD_CHAIN, ("-i", b, *tag, "-j", "ACCEPT")
        yield "filter", FWD_CHAIN, (
            "-o", b, "-m", "conntrack", "--ctstate", "DNAT", *tag, "-j", "ACCEPT"
        )  # fmt: skip

    def _ensure_chain(self, table: str, chain: str, parent: str | None, first: bool) -> None:
        if self._ipt(table, "-S", chain, check=False).returncode != 0:
            self._ipt(table, "-N", chain)
        if parent is None:
            return
        jump = ("-j", chain)
        if not self._has(table, parent, jump):
            if first:
                self._ipt(table, "-I", parent, "1", *jump)
            else:
                self._ipt(table, "-A", parent, *jump)

    def _drop_chain_if_unused(self, table: str, chain: str, parent: str | None) -> None:
        listed = self._ipt(table, "-S", chain, check=False)
        if listed.returncode != 0 or b"pynerd:" in listed.stdout:
            return  # absent, or still used by some network
        if parent is not None:
            while self._has(table, parent, ("-j", chain)):
                self._ipt(table, "-D", parent, "-j", chain)
        self._ipt(table, "-F", chain, check=False)
        self._ipt(table, "-X", chain, check=False)  # fails while another chain jumps here

    def _has(self, table: str, chain: str, rule: Sequence[str]) -> bool:
        return bool(self._ipt(table, "-C", chain, *rule, check=False).returncode == 0)

    def _ipt(self, table: str, *args: str, check: bool = True) -> Any:
        return self._run([self._tool("iptables"), "-w", "-t", table, *args], check=check)

    # Plumbing.

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        from pynerd.state.lock import file_lock

        self.lock.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.lock):
            yield

    def _tool(self, name: str) -> str:
        path = find_executable(name, SBIN)
        if path is None:
            raise HostNetError(f"{name} not found (apt-get install iproute2 iptables)")
        return path

    def _run(self, args: list[str], stdin: str | None = None, check: bool = True) -> Any:
        done = self.runner.run(args, input=stdin.encode() if stdin is not None else None)
        if check and done.returncode != 0:
            msg = (done.stderr or done.stdout).decode(errors="replace").strip()
            raise HostNetError(f"{' '.join(args[:1] + args[1:6])}: {msg}")
        return done
