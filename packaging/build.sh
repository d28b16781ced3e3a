#!/usr/bin/env bash
# Builds azver's installable packages into target/packages/:
#   packaging/build.sh deb|rpm|msi|all|release
#
#   deb  azver-agent_<v>_<arch>.deb, azver-collector_<v>_<arch>.deb   (dpkg-deb)
#   rpm  azver-agent-<v>-<rel>.<arch>.rpm, azver-collector-...rpm      (rpmbuild, Debian's rpm)
#   msi  azver-agent-<v>-x64.msi                                       (wixl, Debian's msitools)
#   release  all of them into an emptied target/packages/, each with a CycloneDX SBOM
#        (<package>.cdx.json, cargo-cyclonedx for the package's binary and target), and
#        SHA256SUMS over packages and SBOMs (`sha256sum -c SHA256SUMS` there checks them)
#
# Linux binaries are static musl builds (x86_64- and aarch64-unknown-linux-musl, with Debian's
# musl-tools and gcc-aarch64-linux-gnu), so one package runs on RHEL 8/9, Ubuntu 20.04-24.04 and
# Debian 11-13. The Windows agent is
# cross-compiled for x86_64-pc-windows-gnu (mingw-w64 from Debian).
#
# It installs what it needs first (Debian packages, rustup targets), idempotently: nothing is
# installed or updated when everything is there. Settings, all optional:
#   AZVER_VERSION=0.1.1      the packages' version instead of Cargo.toml's (an MSI needs
#                            MAJOR.MINOR.PATCH, MAJOR and MINOR < 256, PATCH < 65536); the
#                            binaries keep the version they were built with
#   AZVER_PROFILE=release    cargo profile: `release` (the default, what you ship) or `packaging`
#                            (release without LTO: several times quicker to build; CI uses it)
#   AZVER_ARCHES="x86_64 aarch64"  Linux architectures (aarch64 is cross-built with Debian's
#                            gcc-aarch64-linux-gnu)
#   AZVER_PKG_RELEASE=1      the rpm Release
#   AZVER_MAINTAINER=...     the packages' Maintainer/Packager field
# Exit codes: 0 built, 1 the build failed, 2 usage, 3 a prerequisite cannot be installed here.
# Details: docs/packaging.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

usage() {
    echo "usage: packaging/build.sh deb|rpm|msi|all|release" >&2
    exit 2
}
[ $# -ge 1 ] || usage
case $1 in
    deb | rpm | msi | all | release) [ $# -eq 1 ] || usage; WHAT=$1 ;;
    # For scripts/test-packaging.sh: the same idempotent install of Debian packages.
    --install-debs) shift; WHAT=install-debs ;;
    *) usage ;;
esac

PROFILE=${AZVER_PROFILE:-release}
ARCHES=${AZVER_ARCHES:-x86_64 aarch64}
PKG_RELEASE=${AZVER_PKG_RELEASE:-1}
MAINTAINER=${AZVER_MAINTAINER:-azver maintainers <packaging@azver.invalid>}
HOMEPAGE=https://github.com/azver/azver
OUT=$ROOT/target/packages
WORK=$ROOT/target/packaging
# The workspace version, from [workspace.package] in Cargo.toml, unless AZVER_VERSION says otherwise.
VERSION=${AZVER_VERSION:-$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)}
[ -n "$VERSION" ] || { echo "build.sh: cannot read the version from Cargo.toml" >&2; exit 1; }
# Digits first, then letters, digits, dots, + and ~ only: what dpkg, rpm and file names all take.
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+~][0-9A-Za-z.+~]*)?$ ]] \
    || { echo "build.sh: version \"$VERSION\" is not MAJOR.MINOR.PATCH[-+~SUFFIX] (set AZVER_VERSION to one)" >&2; exit 2; }
# cargo puts the release profile in target/<triple>/release, any other profile in a folder of its name.
PROFILE_DIR=$PROFILE
[ "$PROFILE" = dev ] && PROFILE_DIR=debug

say() { printf '== build.sh: %s\n' "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# A prerequisite that cannot be installed here ends the build with exit code 3, so that callers
# (scripts/test-packaging.sh) can tell "cannot build here" from "the build is broken".
no_prereq() { printf 'build.sh: cannot install %s\n' "$*" >&2; exit 3; }

# Installs the Debian packages not yet installed; apt waits for another apt run's lock instead of
# failing, and the package lists are refreshed only when a package cannot be found.
need_debs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    local apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -y -qq)
    if ! "${apt[@]}" install "${missing[@]}" >/dev/null; then
        "${apt[@]}" update || true
        "${apt[@]}" install "${missing[@]}" >/dev/null || no_prereq "Debian packages ${missing[*]}"
    fi
}

need_target() {
    rustup target list --installed | grep -qx "$1" && return 0
    say "adding rustup target $1"
    rustup target add "$1" || no_prereq "rustup target $1"
}

triple_of() {
    case $1 in
        x86_64) echo x86_64-unknown-linux-musl ;;
        aarch64) echo aarch64-unknown-linux-musl ;;
        *) die "unknown architecture $1 (AZVER_ARCHES takes x86_64 and aarch64)" ;;
    esac
}
deb_arch_of() { case $1 in x86_64) echo amd64 ;; aarch64) echo arm64 ;; esac; }

# Static Linux binaries of the agent and the collector for one architecture.
build_linux() {
    local arch=$1 triple
    triple=$(triple_of "$arch")
    need_debs musl-tools
    need_target "$triple"
    local env=(CC_x86_64_unknown_linux_musl=musl-gcc)
    if [ "$arch" = aarch64 ]; then
        # Rust ships the musl C library for this target; Debian's cross gcc links it and compiles
        # the collector's bundled SQLite. gcc brings glibc's headers, which turn open, pread, stat
        # and friends into open64, pread64, stat64 when SQLite asks for large-file support; musl
        # has no such names. On a 64-bit target off_t is 64 bits anyway, so SQLITE_DISABLE_LFS
        # loses nothing and keeps to names musl has.
        need_debs gcc-aarch64-linux-gnu
        env+=(CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc
            CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc
            CFLAGS_aarch64_unknown_linux_musl=-DSQLITE_DISABLE_LFS)
    fi
    say "building the agent and the collector for $triple (profile $PROFILE)"
    env "${env[@]}" cargo build --locked --profile "$PROFILE" --target "$triple" \
        -p azver-agent -p azver-collector --bins
    local bin
    for bin in azver-agent azver-collector; do
        file -b "target/$triple/$PROFILE_DIR/$bin" | grep -q 'static' \
            || die "$bin for $triple is not statically linked: $(file -b "target/$triple/$PROFILE_DIR/$bin")"
    done
}

# The package's file tree, shared by the deb and the rpm: target/packaging/<pkg>-<arch>/root.
stage_linux() {
    local pkg=$1 arch=$2 triple root
    triple=$(triple_of "$arch")
    root=$WORK/$pkg-$arch/root
    rm -rf "$WORK/$pkg-$arch"
    install -d -m 0755 "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/etc/azver" "$root/usr/share/doc/$pkg"
    install -m 0755 "target/$triple/$PROFILE_DIR/$pkg" "$root/usr/bin/$pkg"
    install -m 0644 "packaging/linux/$pkg.service" "$root/usr/lib/systemd/system/$pkg.service"
    install -m 0644 packaging/linux/copyright "$root/usr/share/doc/$pkg/copyright"
    case $pkg in
        azver-agent)
            install -m 0644 packaging/linux/etc/agent.toml "$root/etc/azver/agent.toml"
            install -m 0644 docs/agent.md "$root/usr/share/doc/$pkg/agent.md"
            ;;
        azver-collector)
            install -m 0644 packaging/linux/etc/collector.toml "$root/etc/azver/collector.toml"
            install -m 0640 packaging/linux/etc/collector.env "$root/etc/azver/collector.env"
            install -m 0644 docs/collector.md "$root/usr/share/doc/$pkg/collector.md"
            ;;
    esac
    install -m 0644 docs/packaging.md "$root/usr/share/doc/$pkg/packaging.md"
}

conffiles_of() {
    case $1 in
        azver-agent) echo /etc/azver/agent.toml ;;
        azver-collector) printf '%s\n' /etc/azver/collector.toml /etc/azver/collector.env ;;
    esac
}

summary_of() {
    case $1 in
        azver-agent) echo "Azure CLI and Az PowerShell version inventory agent" ;;
        azver-collector) echo "Azure CLI and Az PowerShell fleet inventory collector" ;;
    esac
}

description_of() {
    case $1 in
        azver-agent)
            echo "Reads which Azure CLI copies and Az PowerShell modules this host has, from disk,"
            echo "and reports them to an azver collector; \`azver-agent check\` is a CI health check."
            ;;
        azver-collector)
            echo "Receives azver agents' reports over gRPC, keeps the fleet in SQLite and reports"
            echo "which hosts are below the Azure MFA enforcement baseline."
            ;;
    esac
}

# A maintainer script: the shared helpers, the package's actions, then the dispatch for one phase.
maintainer_script() {
    local pkg=$1 dispatch=$2
    printf '#!/bin/sh\n# Generated by packaging/build.sh from packaging/linux/scripts/; edit those.\nset -e\n\n'
    cat packaging/linux/scripts/common.sh
    echo
    cat "packaging/linux/scripts/${pkg#azver-}.sh"
    printf '\n%s\n' "$dispatch"
}

# dpkg calls postinst `configure` with the version last configured: empty on a first install (and
# after a purge), set on an upgrade or a reinstall after `remove` (which keeps the conffiles and
# the unit's enablement, as Debian does).
DEB_PREINST='case "$1" in install|upgrade) pkg_preinstall ;; esac'
DEB_POSTINST='case "$1" in
    configure) if [ -z "${2:-}" ]; then pkg_installed fresh; else pkg_installed upgrade; fi ;;
esac'
DEB_PRERM='case "$1" in remove) pkg_removing ;; esac'
DEB_POSTRM='case "$1" in
    remove) pkg_removed ;;
    purge) pkg_purge ;;
esac'

build_deb() {
    local pkg=$1 arch=$2 root debarch size
    root=$WORK/$pkg-$arch/root
    debarch=$(deb_arch_of "$arch")
    rm -rf "$root/DEBIAN"
    install -d -m 0755 "$root/DEBIAN"
    size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
    {
        echo "Package: $pkg"
        echo "Version: $VERSION"
        echo "Architecture: $debarch"
        echo "Maintainer: $MAINTAINER"
        echo "Installed-Size: $size"
        [ "$pkg" = azver-collector ] && echo "Pre-Depends: passwd"
        echo "Section: admin"
        echo "Priority: optional"
        echo "Homepage: $HOMEPAGE"
        echo "Description: $(summary_of "$pkg")"
        description_of "$pkg" | sed 's/^/ /'
    } > "$root/DEBIAN/control"
    conffiles_of "$pkg" > "$root/DEBIAN/conffiles"
    maintainer_script "$pkg" "$DEB_PREINST" > "$root/DEBIAN/preinst"
    maintainer_script "$pkg" "$DEB_POSTINST" > "$root/DEBIAN/postinst"
    maintainer_script "$pkg" "$DEB_PRERM" > "$root/DEBIAN/prerm"
    maintainer_script "$pkg" "$DEB_POSTRM" > "$root/DEBIAN/postrm"
    chmod 0755 "$root/DEBIAN/preinst" "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
    chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles"
    local deb="$OUT/${pkg}_${VERSION}_${debarch}.deb"
    # xz: what every dpkg from Ubuntu 20.04 and Debian 11 on reads.
    dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
    rm -rf "$root/DEBIAN"
    BUILT+=("$deb $pkg $(triple_of "$arch")")
    say "wrote ${deb#"$ROOT"/}"
}

# rpm calls %post with the number of versions installed after it (1 first install, 2 upgrade) and
# %preun/%postun with the number left (0 on erase). rpm has no purge: `rpm -e` keeps /var/lib and
# the settings written at install time (modified conffiles are saved as .rpmsave).
RPM_PRE='pkg_preinstall'
RPM_POST='if [ "$1" -eq 1 ]; then pkg_installed fresh; else pkg_installed upgrade; fi'
RPM_PREUN='if [ "$1" -eq 0 ]; then pkg_removing; disable_unit "$UNIT"; fi'
RPM_POSTUN='if [ "$1" -eq 0 ]; then pkg_removed; fi'

build_rpm() {
    local pkg=$1 arch=$2 root spec top
    root=$WORK/$pkg-$arch/root
    top=$WORK/rpmbuild-$pkg-$arch
    spec=$top/$pkg.spec
    rm -rf "$top"
    mkdir -p "$top"/{BUILD,RPMS,SOURCES,SPECS,SRPMS,BUILDROOT}
    {
        echo "Name: $pkg"
        echo "Version: $VERSION"
        echo "Release: $PKG_RELEASE"
        echo "Summary: $(summary_of "$pkg")"
        echo "License: MIT OR Apache-2.0"
        echo "URL: $HOMEPAGE"
        echo "Packager: $MAINTAINER"
        echo "AutoReqProv: no"
        [ "$pkg" = azver-collector ] && echo "Requires(pre): shadow-utils"
        # Static binaries, already stripped: no debuginfo split, no build-id links, no strip.
        echo "%global debug_package %{nil}"
        echo "%global _build_id_links none"
        echo "%global __strip /bin/true"
        # xz payload and SHA-256 digests: read by rpm 4.14 (RHEL 8) and later.
        echo "%global _binary_payload w6.xzdio"
        echo "%global _binary_filedigest_algorithm 8"
        echo
        echo "%description"
        description_of "$pkg"
        echo
        echo "%install"
        echo "cp -a '$root/.' %{buildroot}/"
        echo
        for phase in pre post preun postun; do
            local dispatch_var="RPM_${phase^^}"
            echo "%$phase"
            maintainer_script "$pkg" "${!dispatch_var}" | sed '1d'
            echo
        done
        echo "%files"
        echo "%attr(0755,root,root) /usr/bin/$pkg"
        echo "%attr(0644,root,root) /usr/lib/systemd/system/$pkg.service"
        echo "%dir %attr(0755,root,root) /etc/azver"
        local f
        while read -r f; do
            echo "%config(noreplace) %attr($(stat -c %a "$root$f" | sed 's/^/0/'),root,root) $f"
        done < <(conffiles_of "$pkg")
        echo "%doc %attr(0644,root,root) /usr/share/doc/$pkg/*"
        echo "%dir %attr(0755,root,root) /usr/share/doc/$pkg"
    } > "$spec"
    rpmbuild --quiet -bb --target "$arch-linux" \
        --define "_topdir $top" --define "_rpmdir $top/RPMS" \
        --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
        "$spec" >/dev/null
    local rpm="$OUT/$pkg-$VERSION-$PKG_RELEASE.$arch.rpm"
    mv "$top/RPMS/$(basename "$rpm")" "$rpm"
    BUILT+=("$rpm $pkg $(triple_of "$arch")")
    say "wrote ${rpm#"$ROOT"/}"
}

build_msi() {
    local triple=x86_64-pc-windows-gnu
    need_debs gcc-mingw-w64-x86-64 msitools wixl
    need_target "$triple"
    say "building the agent for $triple (profile $PROFILE)"
    cargo build --locked --profile "$PROFILE" --target "$triple" -p azver-agent --bins
    local exe="target/$triple/$PROFILE_DIR/azver-agent.exe"
    # An MSI ProductVersion is numbers only (major.minor.build), at most 255.255.65535.
    local msi_version=${VERSION%%[-+~]*} major minor patch
    IFS=. read -r major minor patch <<< "$msi_version"
    if ((10#$major > 255 || 10#$minor > 255 || 10#$patch > 65535)); then
        echo "build.sh: an MSI version is at most 255.255.65535, not $msi_version" >&2
        exit 2
    fi
    local msi="$OUT/azver-agent-$VERSION-x64.msi"
    mkdir -p "$WORK"
    wixl -a x64 -D "Version=$msi_version" -D "AgentExe=$exe" -o "$msi" packaging/windows/azver-agent.wxs
    # wixl has no component <Condition>: each setting's registry value is written only when its
    # property is given, so set the conditions in the Component table directly. Also let the
    # properties through to the elevated install when a non-administrator starts it.
    local component property
    for component in CollectorUrl:COLLECTOR_URL EnrollSecret:ENROLL_SECRET Role:ROLE Labels:LABELS; do
        property=${component#*:}
        msibuild "$msi" -q "UPDATE \`Component\` SET \`Condition\` = '$property' WHERE \`Component\` = 'Reg${component%%:*}'"
    done
    msibuild "$msi" -q "UPDATE \`Property\` SET \`Value\` = 'WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;COLLECTOR_URL;ENROLL_SECRET;ROLE;LABELS' WHERE \`Property\` = 'SecureCustomProperties'"
    BUILT+=("$msi azver-agent $triple")
    say "wrote ${msi#"$ROOT"/}"
}

# The CycloneDX SBOM of one package: the dependency tree of the crate whose binary it carries, for
# the target that binary was built for (the MSI's agent has Windows-only crates, the Linux
# packages do not), written next to the package as <package>.cdx.json.
sbom() {
    local file=$1 crate=$2 triple=$3 name
    name=$(basename "$file").cdx
    rm -f "$crate/$name.json"
    cargo cyclonedx --manifest-path "$crate/Cargo.toml" --format json --spec-version 1.5 \
        --target "$triple" --override-filename "$name" -q \
        || die "cargo cyclonedx for $file failed"
    mv "$crate/$name.json" "$file.cdx.json"
    # cargo-cyclonedx writes one file for each workspace member; keep only this package's.
    find . -mindepth 2 -maxdepth 2 -name "$name.json" -delete
    say "wrote ${file#"$ROOT"/}.cdx.json"
}

need_cyclonedx() {
    cargo cyclonedx --version >/dev/null 2>&1 && return 0
    say "installing cargo-cyclonedx from crates.io"
    cargo install --locked cargo-cyclonedx >/dev/null || no_prereq "cargo-cyclonedx (cargo install --locked cargo-cyclonedx)"
}

if [ "$WHAT" = install-debs ]; then
    need_debs "$@"
    exit 0
fi
RELEASE=no
if [ "$WHAT" = release ]; then
    # Only this build's files: SHA256SUMS must not vouch for a stale package.
    need_cyclonedx
    rm -rf "$OUT"
    RELEASE=yes
    WHAT=all
fi
BUILT=()
mkdir -p "$OUT" "$WORK"
need_debs file
case $WHAT in deb | all) need_debs dpkg-dev ;; esac
case $WHAT in rpm | all) need_debs rpm ;; esac

if [ "$WHAT" != msi ]; then
    for arch in $ARCHES; do
        build_linux "$arch"
        for pkg in azver-agent azver-collector; do
            stage_linux "$pkg" "$arch"
            case $WHAT in deb | all) build_deb "$pkg" "$arch" ;; esac
            case $WHAT in rpm | all) build_rpm "$pkg" "$arch" ;; esac
        done
    done
fi
case $WHAT in msi | all) build_msi ;; esac
if [ "$RELEASE" = yes ]; then
    for built in "${BUILT[@]}"; do
        read -r file pkg triple <<< "$built"
        # The crate folder is the package name without its azver- prefix.
        sbom "$file" "${pkg#azver-}" "$triple"
    done
    (cd "$OUT" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum -- > SHA256SUMS)
    say "wrote ${OUT#"$ROOT"/}/SHA256SUMS ($(wc -l < "$OUT/SHA256SUMS") files; check with: cd ${OUT#"$ROOT"/} && sha256sum -c SHA256SUMS)"
fi
say "done: $(cd "$OUT" && ls -1 | tr '\n' ' ')"
