#!/usr/bin/env bash
# Installs what podnet's demo, tests and benchmarks need on a fresh Debian 12 machine (as root).
# Idempotent: it installs only what is missing, so a second run takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have nft || need+=(nftables)
have ip || need+=(iproute2)
have ping || need+=(iputils-ping)
have nc || need+=(netcat-openbsd)
have iperf3 || need+=(iperf3)
have etcd || need+=(etcd-server)
have etcdctl || need+=(etcd-client)
have podman || need+=(podman)
have runc || need+=(runc)
have curl || need+=(curl)
have nsenter || need+=(util-linux)
# setpriv: the tests act as user nobody; openssl: podnet store certs and the lab's etcd certificates.
have setpriv || need+=(util-linux)
have openssl || need+=(openssl)
# SCTP for lab pods' responders (Node.js has no SCTP sockets).
have socat || need+=(socat)
[[ -x /bin/busybox ]] || need+=(busybox-static)
# The headless browser of podnet map's test (driven by playwright-core).
[[ -x /usr/bin/chromium ]] || need+=(chromium)
[[ -x /usr/lib/cni/ptp && -x /usr/lib/cni/host-local ]] || need+=(containernetworking-plugins)

if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "podnet setup: missing Debian packages (${need[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "podnet setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need[@]}" >&2
fi

# npm packages: install when missing or when the lock file changed since the last install.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "podnet setup: installing npm packages" >&2
  npm ci --no-audit --no-fund >&2
fi
