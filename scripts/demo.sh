#!/usr/bin/env bash
# The main job, end to end, offline: it grows with each subsystem.
# Today: build a busybox rootfs, import it as an image, push it to a local
# registry, remove it, pull it back, run containers from it, and serve HTTP from
# a user network through a published port on 127.0.0.1.
set -euo pipefail
PYNERD=${1:-pynerd}
root=$(mktemp -d /tmp/pynerd-demo.XXXXXX)
reg_pid=""
cleanup() {
    # the demo's networks (the default bridge included) go with it: bridges and
    # iptables rules are host-wide
    "$(dirname "$PYNERD")/python" -c 'import sys; from pathlib import Path
from pynerd.config import Config; from pynerd.network.networks import NetworkStore
NetworkStore(Config(data_root=Path(sys.argv[1]), cni_netconfpath=Path(sys.argv[2]))).remove_all()' \
        "$root/data" "$root/net.d" 2>/dev/null || true
    if [ -n "$reg_pid" ]; then
        kill "$reg_pid" 2>/dev/null || true
        wait "$reg_pid" 2>/dev/null || true  # the registry's SIGTERM status is not ours
    fi
    rm -rf "$root"
}
trap cleanup EXIT
p() {
    echo "+ pynerd $*"
    "$PYNERD" --data-root "$root/data" --run-root "$root/run" --cni-netconfpath "$root/net.d" "$@"
}

# A private registry on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$root/registry"
cat >"$root/registry/config.yml" <<YML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $root/registry/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$root/registry/config.yml" >"$root/registry/log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

p version
bash "$(dirname "$0")/busybox-rootfs.sh" "$root/busybox.tar"
p import -c 'CMD ["sh"]' -m "busybox from busybox-static" "$root/busybox.tar" "127.0.0.1:$port/demo/busybox:latest"
p push "127.0.0.1:$port/demo/busybox:latest"
p rmi "127.0.0.1:$port/demo/busybox:latest"
p pull "127.0.0.1:$port/demo/busybox:latest"
p images
p image inspect --format '{{.Id}} {{json .Config.Cmd}} {{.Architecture}}' "127.0.0.1:$port/demo/busybox:latest"
p history "127.0.0.1:$port/demo/busybox:latest"
p run --rm "127.0.0.1:$port/demo/busybox:latest" echo "hello from a daemonless container"
p run -d --name demo-web "127.0.0.1:$port/demo/busybox:latest" sh -c 'echo serving; sleep 60'
p ps
p exec demo-web sh -c 'echo "exec sees $(hostname)"'
p logs demo-web
p stop -t 1 demo-web
p ps -a
p rm demo-web
web_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
p network create demo-net
p run -d --name demo-httpd --network demo-net -p "127.0.0.1:$web_port:80" \
    "127.0.0.1:$port/demo/busybox:latest" httpd -f -p 80 -h /var/www
p port demo-httpd
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$web_port/" >/dev/null 2>&1 && break; sleep 0.1; done
echo "+ curl http://127.0.0.1:$web_port/"
curl -fsS "http://127.0.0.1:$web_port/"
p run --rm --network demo-net "127.0.0.1:$port/demo/busybox:latest" wget -qO- http://demo-httpd/
p network inspect --format '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}' demo-net
p rm -f demo-httpd
p network rm demo-net
p info --format '{{.Driver}} storage, cgroup v{{.CgroupVersion}}, runc {{.Pynerd.RuncVersion}}'
echo "demo: OK"
