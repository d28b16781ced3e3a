#!/usr/bin/env bash
# azver's test command: formatting, lints (Linux and the Windows target), every test, and the
# packaging checks.
# Needs scripts/setup.sh to have run once on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export AZVER_REAL_INSTALLS=${AZVER_REAL_INSTALLS:-$PWD/target/real-installs}
# Python with grpcio, for the test that proves the published proto works from another language.
export AZVER_PYTHON=${AZVER_PYTHON:-$PWD/target/py-venv/bin/python}
# The PostgreSQL tests run when AZVER_TEST_POSTGRES_URL names a server they may create databases
# on (.ci/run sets it); without it they print "skipped" and pass, except under CI=true.
if [ -z "${AZVER_TEST_POSTGRES_URL:-}" ]; then
  echo "== NOTE: AZVER_TEST_POSTGRES_URL is not set: the PostgreSQL tests will skip (e.g. export AZVER_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres)"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (linux)"
cargo clippy --workspace --all-targets --locked -- -D warnings

if rustup target list --installed | grep -qx x86_64-pc-windows-gnu; then
  echo "== cargo clippy (x86_64-pc-windows-gnu: the agent's Windows code)"
  cargo clippy -p azver-agent -p azver-core --lib --bins --locked --target x86_64-pc-windows-gnu -- -D warnings
else
  echo "== SKIPPED: Windows compile check (rustup target x86_64-pc-windows-gnu is not installed here)"
fi

echo "== cargo build (the end-to-end tests run the real binaries)"
cargo build --workspace --bins --locked

echo "== cargo test"
cargo test --workspace --locked

echo "== packaging: build the .deb, .rpm and MSI, install the .debs, inspect the rest (scripts/test-packaging.sh)"
scripts/test-packaging.sh
