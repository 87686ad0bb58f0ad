"""Container networking through CNI plugins (the runtime side of the CNI spec).

How pynerd gives a container its network, with no daemon to hold anything open:

1. **netns** (:mod:`pynerd.network.netns`): pynerd creates the container's network
   namespace itself and pins it as a bind-mounted nsfs file
   ``<run_root>/netns/<name>`` (~1 ms, no ``ip`` process), with ``lo`` up.
2. **CNI ADD** (:mod:`pynerd.network.cni`): the network's config list is loaded from
   ``cni_netconfpath`` (``config.load``) and ``CNI.add(net, RuntimeConf(container_id,
   netns_path, "eth0", capability_args={"portMappings": …}))`` runs the plugins
   (bridge + host-local, portmap, firewall, tuning, …) from ``cni_path``. The result
   (addresses, gateway, DNS) feeds ``/etc/hosts`` and ``resolv.conf``; it is also cached
   under ``<data_root>/cni/results/`` for CHECK and DEL.
3. **runc** joins the namespace instead of making one: the OCI spec gets
   ``linux.namespaces: [{"type": "network", "path": "<run_root>/netns/<name>"}]``.
   The namespace is pinned by the file, not by a process, so it exists before the
   container's first process (ADD) and after its last (DEL).
4. **teardown** (``rm``, ``run --rm``, or a reconcile after a crash): ``CNI.delete``
   (reverse order, with the cached result; succeeds when things are already gone), then
   ``netns.remove``. Only then is the container record removed, so a failure halfway
   is retried by the next ``rm`` rather than leaking a lease, a veth or a rule.

``plugins`` finds plugin binaries and their versions for ``info``.
"""

from __future__ import annotations
