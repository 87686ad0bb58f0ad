#!/usr/bin/env bash
# The main job, end to end, offline. It grows with each subsystem.
set -euo pipefail
PYNERD=${1:-pynerd}
root=$(mktemp -d /tmp/pynerd-demo.XXXXXX)
trap 'rm -rf "$root"' EXIT
p() { echo "+ pynerd $*"; "$PYNERD" --data-root "$root/data" --run-root "$root/run" "$@"; }

p version
p info --format '{{.Driver}} storage, cgroup v{{.CgroupVersion}}, runc {{.Pynerd.RuncVersion}}'
p ps -a
p ps -a --format json
echo "demo: OK"
