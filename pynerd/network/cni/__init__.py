"""The runtime side of the CNI spec (libcni's model): configs, plugin execution, results.

- :mod:`.config`: ``load_all(dir)``/``load(dir, name)`` → :class:`NetworkConfigList`
- :mod:`.runtime`: ``CNI(cni_path, cache_dir).add/check/delete/get_cached`` with a
  :class:`RuntimeConf` per attachment
- :mod:`.exec`: the plugin executor seam (``SubprocessExecutor``, ``FakeExecutor``)
- :mod:`.result`: results of every spec version, converted to the list's version
- :mod:`.cache`: the per-attachment result cache (libcni's ``cniCacheV1`` files)

See :mod:`pynerd.network` for how a container's network is put together.
"""

from __future__ import annotations
