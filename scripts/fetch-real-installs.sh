#!/usr/bin/env bash
# Fetches real Azure CLI packages for the tests that scan real installs (not hand-made fixtures):
#   $DEST/debian/  Debian's azure-cli 2.45.0 packages (azure-cli, python3-azure-cli,
#                  python3-azure-cli-core) extracted with dpkg-deb -x: a real Debian install tree
#   $DEST/wheels/  azure-cli and azure-cli-core wheels from PyPI, at the baseline (2.76.0) and
#                  below it (2.60.0); the tests pip-install them into a venv and a --target tree
#   $DEST/installed/VERSION/  those wheels installed once by pip (--target): a real site-packages
#                  tree (about 9,000 files) that the discovery tests hard-link into each layout
#                  they build (conda env, uv tool, pyenv/asdf/mise, Nix store, Scoop, ...)
# Usage: scripts/fetch-real-installs.sh DEST   (then export AZVER_REAL_INSTALLS=DEST)
set -euo pipefail
dest=${1:?usage: $0 DEST}
mkdir -p "$dest/debian" "$dest/wheels" "$dest/debs"
dest=$(cd "$dest" && pwd)

if [ ! -f "$dest/debian/usr/bin/az" ]; then
  # A fresh machine may have no package lists yet: update once and retry.
  ( cd "$dest/debs" && { apt-get download azure-cli python3-azure-cli python3-azure-cli-core 2>/dev/null \
      || { apt-get update -qq && apt-get download azure-cli python3-azure-cli python3-azure-cli-core; }; } )
  for deb in "$dest"/debs/*.deb; do dpkg-deb -x "$deb" "$dest/debian"; done
fi

for version in 2.76.0 2.60.0; do
  if ! ls "$dest/wheels/azure_cli-$version-"*.whl >/dev/null 2>&1; then
    python3 -m pip download --quiet --no-deps --dest "$dest/wheels" "azure-cli==$version" "azure-cli-core==$version"
  fi
done
for version in 2.76.0 2.60.0; do
  if [ ! -d "$dest/installed/$version/azure_cli-$version.dist-info" ]; then
    rm -rf "$dest/installed/$version.partial"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --no-index --no-compile \
      --find-links "$dest/wheels" --target "$dest/installed/$version.partial" \
      "azure-cli==$version" "azure-cli-core==$version"
    # The console scripts pip wrote name this machine's interpreter; the tests write their own.
    rm -rf "$dest/installed/$version.partial/bin"
    mv "$dest/installed/$version.partial" "$dest/installed/$version"
  fi
done
ls "$dest/wheels" "$dest/installed"
echo "real installs ready in $dest"
