#!/usr/bin/env bash
# Install the system packages pynerd and its tests need (Debian/Ubuntu, as root).
# Idempotent: packages already present are not fetched again, and apt's package
# lists are refreshed only when something is missing.
set -euo pipefail

runtime=(runc containernetworking-plugins iptables iproute2 tini busybox-static docker-registry curl)
testing=(docker-registry skopeo hyperfine zsh fish)

want=("${runtime[@]}")
if [ "${1:-}" = "--test" ]; then
    want+=("${testing[@]}")
fi

missing=()
for pkg in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-system-deps: need root to install: ${missing[*]}" >&2
    exit 1
fi
echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
