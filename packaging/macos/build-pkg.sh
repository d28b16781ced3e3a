#!/usr/bin/env bash
# Builds target/packages/azver-agent-<v>.pkg: a universal (arm64 + x86_64) azver-agent in
# /usr/local/bin and its launchd daemon. Runs on a Mac with Xcode's command line tools and rustup;
# it cannot run on Linux (pkgbuild, lipo and Apple's linker are macOS-only).
#
#   packaging/macos/build-pkg.sh
#   AZVER_SIGN_IDENTITY="Developer ID Installer: Example (TEAMID)" packaging/macos/build-pkg.sh
#
# Jamf: upload the .pkg, run packaging/macos/jamf-configure.sh in the same policy (before the
# package) with the collector URL and enrollment secret as parameters; docs/packaging.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(uname -s)" = Darwin ] || { echo "build-pkg.sh: runs on macOS only (pkgbuild, lipo)" >&2; exit 1; }

VERSION=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
PROFILE=${AZVER_PROFILE:-release}
OUT=$PWD/target/packages
WORK=$PWD/target/packaging/macos
rm -rf "$WORK"
mkdir -p "$OUT" "$WORK/root/usr/local/bin" "$WORK/root/Library/LaunchDaemons"

for triple in aarch64-apple-darwin x86_64-apple-darwin; do
    rustup target list --installed | grep -qx "$triple" || rustup target add "$triple"
    cargo build --locked --profile "$PROFILE" --target "$triple" -p azver-agent --bins
done
lipo -create -output "$WORK/root/usr/local/bin/azver-agent" \
    "target/aarch64-apple-darwin/$PROFILE/azver-agent" "target/x86_64-apple-darwin/$PROFILE/azver-agent"
chmod 0755 "$WORK/root/usr/local/bin/azver-agent"
if [ -n "${AZVER_CODESIGN_IDENTITY:-}" ]; then
    # Hardened runtime, needed for notarization.
    codesign --force --options runtime --timestamp --sign "$AZVER_CODESIGN_IDENTITY" "$WORK/root/usr/local/bin/azver-agent"
fi
install -m 0644 packaging/macos/com.azver.agent.plist "$WORK/root/Library/LaunchDaemons/com.azver.agent.plist"

pkg=$OUT/azver-agent-$VERSION.pkg
sign=()
[ -n "${AZVER_SIGN_IDENTITY:-}" ] && sign=(--sign "$AZVER_SIGN_IDENTITY")
pkgbuild --root "$WORK/root" --scripts packaging/macos/scripts \
    --identifier com.azver.agent --version "$VERSION" --install-location / \
    --ownership recommended "${sign[@]}" "$pkg"
echo "wrote $pkg"
# Notarize a signed package before Jamf ships it:
#   xcrun notarytool submit "$pkg" --keychain-profile azver --wait && xcrun stapler staple "$pkg"
