"""A fake Runner for :mod:`pynerd.network.hostnet`: iptables on an in-memory table set.

It models what hostnet relies on: ``-S`` (listing, fails for a missing chain), ``-C``,
``-N``, ``-A``, ``-I [n]``, ``-D``, ``-F`` and ``-X`` with iptables' failures (a jump to a
missing chain, ``-X`` of a chain that is built in, missing, not empty or still jumped to);
``ip`` invocations are only recorded.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from pynerd.procs import Completed

BUILTIN = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
}
TARGETS = {"ACCEPT", "DROP", "RETURN", "REJECT", "MASQUERADE", "DNAT", "SNAT", "MARK"}
MUTATING = {"-N", "-A", "-I", "-D", "-F", "-X"}

Rule = tuple[str, ...]


class FakeIptables:
    def __init__(self) -> None:
        self.tables: dict[str, dict[str, list[Rule]]] = {
            t: {c: [] for c in chains} for t, chains in BUILTIN.items()
        }
        self.calls: list[tuple[str, ...]] = []  # every command, program name first
        self.ip_input: list[str] = []
        self.fail: dict[tuple[str, str], str] = {}  # (op, chain) -> stderr of a failure

    # The Runner protocol.

    def run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        timeout: float | None = None,
    ) -> Completed:
        argv = tuple(args)
        prog = argv[0].rsplit("/", 1)[-1]
        self.calls.append((prog, *argv[1:]))
        if prog == "ip":
            if input is not None:
                self.ip_input.append(input.decode())
            return Completed(argv, 0, b"", b"")
        assert prog == "iptables", argv
        assert argv[1:3] == ("-w", "-t"), argv
        table, op, chain, *rest = argv[3:]
        if (op, chain) in self.fail:
            return Completed(argv, 4, b"", self.fail[op, chain].encode())
        rc, out, err = self._do(self.tables[table], op, chain, tuple(rest))
        return Completed(argv, rc, out.encode(), err.encode())

    # Helpers for tests.

    def rules(self, table: str, chain: str) -> list[Rule]:
        return list(self.tables[table].get(chain, []))

    def chains(self, table: str) -> set[str]:
        return set(self.tables[table]) - set(BUILTIN[table])

    def changes(self) -> list[tuple[str, ...]]:
        return [c for c in self.calls if c[0] == "iptables" and c[4] in MUTATING]

    def snapshot(self) -> dict[str, dict[str, list[Rule]]]:
        return {t: {c: list(r) for c, r in chains.items()} for t, chains in self.tables.items()}

    # The model.

    def _do(self, chains: dict[str, list[Rule]], op: str, chain: str, rule: Rule) -> tuple:
        missing = (1, "", "iptables: No chain/target/match by that name.\n")
        if op == "-N":
            if chain in chains:
                return 1, "", "iptables: Chain already exists.\n"
            chains[chain] = []
            return 0, "", ""
        if chain not in chains:
            return missing
        rules = chains[chain]
        if op == "-S":
            head = f"-P {chain} ACCEPT" if self._builtin(chains, chain) else f"-N {chain}"
            lines = [head] + [f"-A {chain} {shlex.join(r)}" for r in rules]
            return 0, "\n".join(lines) + "\n", ""
        if op == "-C":
            return (0, "", "") if rule in rules else (1, "", "iptables: Bad rule.\n")
        if op in ("-A", "-I"):
            pos = len(rules)
            if op == "-I":
                pos = 0
                if rule and rule[0].isdigit():
                    pos, rule = int(rule[0]) - 1, rule[1:]
            target = rule[rule.index("-j") + 1]
            if target not in TARGETS and target not in chains:
                return 2, "", f"iptables v1.8.9: Couldn't load target `{target}'\n"
            rules.insert(pos, rule)
            return 0, "", ""
        if op == "-D":
            if rule not in rules:
                return 1, "", "iptables: Bad rule (does a matching rule exist in that chain?).\n"
            rules.remove(rule)
            return 0, "", ""
        if op == "-F":
            rules.clear()
            return 0, "", ""
        if op == "-X":
            if self._builtin(chains, chain):
                return 2, "", "iptables: Can't delete built-in chain.\n"
            if rules:
                return 1, "", "iptables: Directory not empty.\n"
            if any(r[r.index("-j") + 1] == chain for rs in chains.values() for r in rs):
                return 1, "", "iptables: Too many links.\n"
            del chains[chain]
            return 0, "", ""
        raise AssertionError(f"unmodelled iptables command {op}")

    def _builtin(self, chains: dict[str, list[Rule]], chain: str) -> bool:
        return any(chains is self.tables[t] and chain in BUILTIN[t] for t in BUILTIN)
