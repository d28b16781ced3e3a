#!/usr/bin/env bash
# Installs what azver's tests need on a fresh Debian machine (idempotent; run as root or with sudo):
# Debian packages, the Windows rustup target, and the real Azure CLI packages the tests scan.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
dpkg -s gcc-mingw-w64-x86-64 >/dev/null 2>&1 || missing+=(gcc-mingw-w64-x86-64)
# Debian's own python3 needs python3-venv for the venv tests; other Pythons bring venv along.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
# Debian's own azure-cli: `scan --exec` is tested against the real `az version`.
command -v az >/dev/null 2>&1 || missing+=(azure-cli)
# Debian's headless Chromium renders the dashboard in the HTTP end-to-end test.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The HTTPS recipe test runs docs/SECURITY.md's openssl and curl commands between two network
# namespaces (ip netns); the hostile tests use prlimit (util-linux).
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v prlimit >/dev/null 2>&1 || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# The toolchain itself comes from rust-toolchain.toml; add the Windows target for the compile check.
if ! rustup target list --installed | grep -qx x86_64-pc-windows-gnu; then
  rustup target add x86_64-pc-windows-gnu || echo "setup: could not install rustup target x86_64-pc-windows-gnu; the Windows compile check will be reported as SKIPPED" >&2
fi

# A Python with grpcio for the cross-language client test (stubs are generated inside the test),
# and prometheus-client, whose exposition parser checks the collector's /metrics.
if [ ! -x target/py-venv/bin/python ] || ! target/py-venv/bin/python -c 'import grpc, grpc_tools, grpc_health, grpc_reflection, prometheus_client' 2>/dev/null; then
  python3 -m venv target/py-venv
  target/py-venv/bin/pip install --quiet grpcio grpcio-tools grpcio-health-checking grpcio-reflection prometheus-client
fi

# Real installs for the detection tests (Debian's azure-cli, PyPI wheels).
scripts/fetch-real-installs.sh target/real-installs
