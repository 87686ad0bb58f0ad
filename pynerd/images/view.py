"""Read-side views of stored images: config, sizes, Docker's inspect JSON, history."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pynerd.config import Config
from pynerd.content.store import ContentStore
from pynerd.images import manifest as mf
from pynerd.images.store import ImageStore, Record


def familiar(name: str) -> str:
    """``docker.io/library/busybox:latest`` → ``busybox:latest`` (Docker's display form)."""
    from pynerd.registry.reference import parse_reference

    return parse_reference(name).familiar()


def split_name(name: str) -> tuple[str, str]:
    """Repository and tag as ``images`` shows them; ``<none>`` where there is none."""
    if name.startswith("sha256:"):
        return "<none>", "<none>"
    from pynerd.registry.reference import parse_reference

    ref = parse_reference(name)
    return ref.familiar_name, ref.tag or "<none>"


class ImageView:
    """One stored image (a record) with lazy access to its blobs and layer sizes."""

    def __init__(
        self, cfg: Config, record: Record, content: ContentStore, siblings: list[Record]
    ) -> None:
        self.cfg = cfg
        self.record = record
        self.content = content
        self.siblings = siblings  # every record with the same image ID, this one included

    @cached_property
    def config(self) -> dict[str, Any]:
        return mf.load_json(self.content.read(self.record["Config"]), "image config")

    @cached_property
    def manifest(self) -> mf.Manifest:
        desc = self.record["Manifest"]
        data = self.content.read(desc["digest"])
        return mf.parse_manifest(data, mf.media_type_of(data, desc.get("mediaType")))

    @property
    def id(self) -> str:
        return str(self.record["Config"])

    @cached_property
    def layer_sizes(self) -> list[int]:
        """Unpacked size of each layer, as recorded by the snapshotter when it was applied."""
        from pynerd.snapshots import get_snapshotter

        snap = get_snapshotter(
            self.cfg.snapshotter, self.cfg.data_root / "snapshots" / self.cfg.snapshotter
        )
        sizes = []
        for chain in mf.chain_ids(mf.config_diff_ids(self.config)):
            try:
                sizes.append(int(snap.stat(chain).labels.get("pynerd.size", "0")))
            except Exception:
                sizes.append(0)
        return sizes

    @property
    def size(self) -> int:
        recorded = self.record.get("Size")
        return int(recorded) if recorded is not None else sum(self.layer_sizes)

    @property
    def repo_tags(self) -> list[str]:
        return sorted(
            familiar(r["Name"])
            for r in self.siblings
            if not r["Name"].startswith("sha256:") and "@" not in r["Name"]
        )

    @property
    def repo_digests(self) -> list[str]:
        out = set()
        for r in self.siblings:
            if r["Name"].startswith("sha256:"):
                continue
            from pynerd.registry.reference import parse_reference

            out.add(f"{parse_reference(r['Name']).familiar_name}@{r['Target']['digest']}")
        return sorted(out)

    def inspect(self) -> dict[str, Any]:
        c = self.config
        cc = c.get("config") or {}
        out: dict[str, Any] = {
            "Id": self.id,
            "RepoTags": self.repo_tags,
            "RepoDigests": self.repo_digests,
            "Parent": "",
            "Comment": c.get("comment", ""),
            "Created": c.get("created", ""),
            "DockerVersion": c.get("docker_version", ""),
            "Author": c.get("author", ""),
            "Config": {
                "Hostname": "",
                "Domainname": "",
                "User": cc.get("User", ""),
                "AttachStdin": False,
                "AttachStdout": False,
                "AttachStderr": False,
                "ExposedPorts": cc.get("ExposedPorts"),
                "Tty": False,
                "OpenStdin": False,
                "StdinOnce": False,
                "Env": cc.get("Env"),
                "Cmd": cc.get("Cmd"),
                "Healthcheck": cc.get("Healthcheck"),
                "Image": "",
                "Volumes": cc.get("Volumes"),
                "WorkingDir": cc.get("WorkingDir", ""),
                "Entrypoint": cc.get("Entrypoint"),
                "OnBuild": cc.get("OnBuild"),
                "Labels": cc.get("Labels"),
                "StopSignal": cc.get("StopSignal"),
            },
            "Architecture": c.get("architecture", ""),
            "Os": c.get("os", ""),
            "Size": self.size,
            "GraphDriver": {"Data": None, "Name": self.cfg.snapshotter},
            "RootFS": {"Type": "layers", "Layers": mf.config_diff_ids(c)},
            "Metadata": {"LastTagTime": self.record.get("Updated", "")},
        }
        for key in ("ExposedPorts", "Healthcheck", "StopSignal"):
            if out["Config"][key] is None:
                del out["Config"][key]
        if c.get("variant"):
            out["Variant"] = c["variant"]
        return out

    def history(self) -> list[dict[str, Any]]:
        """Newest first, like ``docker history``: one entry per config history item."""
        entries = list(self.config.get("history") or [])
        sizes = iter(self.layer_sizes)
        rows = []
        for h in entries:
            size = 0 if h.get("empty_layer") else next(sizes, 0)
            rows.append(
                {
                    "Created": h.get("created", ""),
                    "CreatedBy": h.get("created_by", ""),
                    "Size": size,
                    "Comment": h.get("comment", ""),
                }
            )
        if not entries:
            rows = [
                {
                    "Created": self.config.get("created", ""),
                    "CreatedBy": "",
                    "Size": s,
                    "Comment": "",
                }
                for s in self.layer_sizes
            ]
        rows.reverse()
        for i, r in enumerate(rows):
            r["Id"] = self.id if i == 0 else "<missing>"
        return rows


class ImageCatalog:
    """All images of a namespace, grouped by image ID."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.store = ImageStore(cfg.namespace_root)
        self.content = ContentStore(cfg.data_root / "content")

    def views(self) -> list[ImageView]:
        records = self.store.list()
        by_id: dict[str, list[Record]] = {}
        for r in records:
            by_id.setdefault(r["Config"], []).append(r)
        return [ImageView(self.cfg, r, self.content, by_id[r["Config"]]) for r in records]

    def view(self, text: str) -> ImageView:
        """The image a user's argument names (ID, digest or reference)."""
        records = self.store.lookup(text)
        image_id = records[0]["Config"]
        siblings = self.store.by_id(image_id)
        return ImageView(self.cfg, records[0], self.content, siblings)
