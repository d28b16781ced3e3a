#!/usr/bin/env bash
# The one real Windows run possible on Linux: the cross-compiled azver-agent.exe scans a Windows
# layout under Debian's Wine, with the Azure CLI's MSI registration set by `wine reg add`, and must
# report that copy with the version from the registry (the live-Windows path through winreg).
#   packaging/wine-smoke.sh              # builds the exe if needed (packaging/build.sh's profile)
# Slow (Wine's first start), so not part of scripts/test-packaging.sh. Needs root for apt.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${AZVER_PROFILE:-packaging}
TRIPLE=x86_64-pc-windows-gnu
EXE=$PWD/target/$TRIPLE/$PROFILE/azver-agent.exe
CLI_VERSION=2.77.0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v wine >/dev/null || ! dpkg-query -W -f='${Status}' wine64 2>/dev/null | grep -q 'install ok installed'; then
    echo "== wine-smoke: installing Debian's wine"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends wine wine64 >/dev/null
fi
if [ ! -x "$EXE" ]; then
    rustup target list --installed | grep -qx "$TRIPLE" || rustup target add "$TRIPLE"
    cargo build --locked --profile "$PROFILE" --target "$TRIPLE" -p azver-agent --bins
fi

PREFIX=$(mktemp -d)
trap 'WINEPREFIX=$PREFIX wineserver -k 2>/dev/null || true; rm -rf "$PREFIX"' EXIT
export WINEPREFIX=$PREFIX WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
echo "== wine-smoke: creating a Wine prefix"
wineboot --init >/dev/null 2>&1
wineserver -w

# Rust's standard library takes its random numbers from ProcessPrng in bcryptprimitives.dll
# (Windows 10 and later); Debian 12's Wine 8 lacks that DLL, so give the prefix a stand-in built on
# RtlGenRandom (Wine 9 has its own).
mkdir -p "$PREFIX/shim"
cat > "$PREFIX/shim/bcryptprimitives.c" <<'C'
#include <windows.h>
#include <ntsecapi.h>
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
C
printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\n    ProcessPrng\n' > "$PREFIX/shim/bcryptprimitives.def"
x86_64-w64-mingw32-gcc -O2 -shared -o "$PREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    "$PREFIX/shim/bcryptprimitives.c" "$PREFIX/shim/bcryptprimitives.def" -ladvapi32

# The layout the Azure CLI MSI leaves: CLI2 without any dist-info (the MSI build deletes it), and
# its Uninstall entry in the 64-bit registry view.
CLI2="$PREFIX/drive_c/Program Files/Microsoft SDKs/Azure/CLI2"
mkdir -p "$CLI2/Lib/site-packages/azure/cli/core" "$CLI2/wbin"
printf '@echo off\r\n' > "$CLI2/wbin/az.cmd"
KEY='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\{7B1D2E5C-0A0F-4C2A-9B0D-AZVERSMOKE01}'
wine reg add "$KEY" /v DisplayName /t REG_SZ /d "Microsoft Azure CLI (64-bit)" /f /reg:64 >/dev/null
wine reg add "$KEY" /v DisplayVersion /t REG_SZ /d "$CLI_VERSION" /f /reg:64 >/dev/null
wine reg add "$KEY" /v InstallLocation /t REG_SZ /d 'C:\Program Files\Microsoft SDKs\Azure\CLI2\' /f /reg:64 >/dev/null
wineserver -w

echo "== wine-smoke: azver-agent.exe scan --format json"
wine "$EXE" scan --format json > "$PREFIX/scan.json" 2> "$PREFIX/scan.err" || {
    cat "$PREFIX/scan.err" >&2
    echo "FAILED: azver-agent.exe scan under Wine exited non-zero" >&2
    exit 1
}
python3 - "$PREFIX/scan.json" "$CLI_VERSION" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8-sig"))
want = sys.argv[2]
found = [i for i in doc["installations"] if i["product"] == "azure-cli" and i["source"] == "windows-msi"]
if not found:
    sys.exit(f"FAILED: no windows-msi azure-cli in the scan: {json.dumps(doc['installations'])}")
if doc["host"].get("os_family") != "windows":
    sys.exit(f"FAILED: the agent did not see Windows: {doc['host']}")
inst = found[0]
if inst["version"] != want or inst["evidence"] != "registry":
    sys.exit(f"FAILED: expected {want} from the registry, got {inst['version']} from {inst['evidence']}")
print(f"ok: azure-cli {inst['version']} at {inst['path']} from the registry (host os_family: {doc['host'].get('os_family')})")
EOF
echo "wine-smoke: 1 passed, 0 failed"
