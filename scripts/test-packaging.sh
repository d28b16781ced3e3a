#!/usr/bin/env bash
# azver's packaging checks (CI): builds the .deb, .rpm and MSI with packaging/build.sh (which
# installs its own prerequisites), then
#   - installs the .debs with dpkg -i on this machine and checks files, modes, owners, the
#     settings written from the installer's environment, `systemd-analyze verify` of both units,
#     that the installed binaries run (the collector as its own user), an upgrade (node key,
#     conffile edits and agent.env kept), remove (conffiles and state kept) and purge (all gone);
#   - lists the rpms (files, modes, conffiles, scriptlets that parse);
#   - inspects the MSI with msiinfo (ServiceInstall, Registry, conditions, hidden property) and
#     checks that the exe inside is PE32+;
#   - parses the launchd plist (plistlib) and the pkg and Jamf scripts (sh -n), and runs
#     `cargo check` of the agent for aarch64- and x86_64-apple-darwin with zig (PyPI's ziglang)
#     as ring's C compiler;
#   - `packaging/build.sh release`: SHA256SUMS verifies and catches a changed byte, and each
#     package has a CycloneDX SBOM of its binary's crates for its target.
# A check whose tool or target cannot be installed here prints SKIPPED; any other failure stops
# the script with FAILED and a non-zero exit. It needs root (dpkg -i) and leaves no azver package,
# file or user behind. The services are never started: postinst starts them only when systemd
# runs this boot, and the agent's collector here is a closed loopback port anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export AZVER_PROFILE=${AZVER_PROFILE:-packaging}
export AZVER_ARCHES=x86_64
export CARGO_TERM_PROGRESS_WHEN=never
PKGS=$ROOT/target/packages
VERSION=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
START=$(date +%s)
PASSED=0
SKIPPED=0

ok() { PASSED=$((PASSED + 1)); printf '  ok: %s\n' "$*"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf '== SKIPPED: %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
section() { printf '== %s (%ss)\n' "$*" "$(($(date +%s) - START))"; }
# check DESCRIPTION COMMAND...: the command must succeed.
check() {
    local what=$1
    shift
    "$@" || fail "$what (command: $*)"
    ok "$what"
}
mode_of() { stat -c '%a %U:%G' "$1"; }
expect_mode() {
    local path=$1 want=$2 got
    got=$(mode_of "$path" 2>/dev/null) || fail "$path does not exist"
    [ "$got" = "$want" ] || fail "$path is $got, expected $want"
    ok "$path is $want"
}
expect_absent() { [ ! -e "$1" ] && [ ! -L "$1" ] || fail "$1 still exists"; ok "$1 is gone"; }
expect_present() { [ -e "$1" ] || fail "$1 is missing"; ok "$1 is there"; }
# serve_briefly NAME COMMAND...: starts a collector, waits for its "listening on 127.0.0.1:" line,
# then stops it with SIGTERM, which must end it with exit code 0.
serve_briefly() {
    local name=$1 code=0
    shift
    "$@" > "$TMP/serve.out" 2> "$TMP/serve.err" &
    COLLECTOR_PID=$!
    for _ in $(seq 1 100); do
        grep -q '^listening on' "$TMP/serve.out" 2>/dev/null && break
        kill -0 "$COLLECTOR_PID" 2>/dev/null || break
        sleep 0.1
    done
    grep -q '^listening on 127.0.0.1:' "$TMP/serve.out" || { cat "$TMP/serve.err"; fail "$name did not start"; }
    ok "$name listening on loopback"
    kill -TERM "$COLLECTOR_PID"
    wait "$COLLECTOR_PID" || code=$?
    COLLECTOR_PID=
    [ "$code" -eq 0 ] || fail "$name exited $code on SIGTERM"
    ok "$name stopped cleanly on SIGTERM"
}
deb_status() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null || echo "not-installed"; }
expect_status() {
    local got
    got=$(deb_status "$1")
    [ "$got" = "$2" ] || fail "dpkg status of $1 is '$got', expected '$2'"
    ok "dpkg status of $1: $2"
}

[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i); run it as root or with sudo"
for p in azver-agent azver-collector; do
    case $(deb_status "$p") in
        not-installed | "unknown ok not-installed") ;;
        *) fail "$p is already known to dpkg here ($(deb_status "$p")); this test installs and purges it, so remove it first (dpkg -P $p)" ;;
    esac
done
[ ! -e /var/lib/azver ] || fail "/var/lib/azver exists; this test would delete it (purge): move it away first"
USER_EXISTED=no
getent passwd azver-collector >/dev/null && USER_EXISTED=yes

TMP=$(mktemp -d)
COLLECTOR_PID=
cleanup() {
    local code=$?
    [ -n "$COLLECTOR_PID" ] && kill "$COLLECTOR_PID" 2>/dev/null
    for p in azver-agent azver-collector; do
        case $(deb_status "$p") in
            not-installed | "unknown ok not-installed") ;;
            *) dpkg -P "$p" >/dev/null 2>&1 || echo "cleanup: could not purge $p" >&2 ;;
        esac
    done
    if [ "$USER_EXISTED" = no ] && getent passwd azver-collector >/dev/null; then
        userdel azver-collector 2>/dev/null || true
        getent group azver-collector >/dev/null && groupdel azver-collector 2>/dev/null || true
    fi
    rm -rf "$TMP"
    exit "$code"
}
trap cleanup EXIT

# Runs packaging/build.sh KIND; returns 1 (after printing SKIPPED) when a prerequisite cannot be
# installed here, fails the test for any other error.
build() {
    local kind=$1 code=0
    section "packaging/build.sh $kind (profile $AZVER_PROFILE)"
    packaging/build.sh "$kind" || code=$?
    case $code in
        0) return 0 ;;
        3) skip "$kind packages: a prerequisite cannot be installed here (see above)"; return 1 ;;
        *) fail "packaging/build.sh $kind exited $code" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# deb
if build deb; then
    AGENT_DEB=$PKGS/azver-agent_${VERSION}_amd64.deb
    COLLECTOR_DEB=$PKGS/azver-collector_${VERSION}_amd64.deb
    expect_present "$AGENT_DEB"
    expect_present "$COLLECTOR_DEB"

    section "deb: contents"
    check "agent control names the package, version and arch" \
        grep -qx "Package: azver-agent" <(dpkg-deb -f "$AGENT_DEB")
    [ "$(dpkg-deb -f "$AGENT_DEB" Version)" = "$VERSION" ] || fail "agent deb version is not $VERSION"
    [ "$(dpkg-deb -f "$AGENT_DEB" Architecture)" = amd64 ] || fail "agent deb architecture is not amd64"
    ok "agent deb is $VERSION for amd64"
    check "agent conffiles: /etc/azver/agent.toml" \
        diff <(dpkg-deb --ctrl-tarfile "$AGENT_DEB" | tar -xO ./conffiles) <(echo /etc/azver/agent.toml)
    check "collector conffiles: collector.toml and collector.env" \
        diff <(dpkg-deb --ctrl-tarfile "$COLLECTOR_DEB" | tar -xO ./conffiles) \
        <(printf '%s\n' /etc/azver/collector.toml /etc/azver/collector.env)
    dpkg-deb -c "$AGENT_DEB" > "$TMP/agent-deb.txt"
    dpkg-deb -c "$COLLECTOR_DEB" > "$TMP/collector-deb.txt"
    check "agent deb: /usr/bin/azver-agent 0755 root/root" \
        grep -Eq '^-rwxr-xr-x root/root .* \./usr/bin/azver-agent$' "$TMP/agent-deb.txt"
    check "collector deb: collector.env 0640 root/root" \
        grep -Eq '^-rw-r----- root/root .* \./etc/azver/collector.env$' "$TMP/collector-deb.txt"

    section "deb: install the agent with settings in the environment"
    # A closed loopback port: nothing here ever talks to anything, even if systemd were running.
    AZVER_COLLECTOR=https://127.0.0.1:9 AZVER_ENROLL_SECRET='s3cr3t+/=' AZVER_ROLE=build-runner \
        AZVER_LABELS='team=ci,site=test lab' dpkg -i "$AGENT_DEB" > "$TMP/install.log" 2>&1 \
        || { cat "$TMP/install.log"; fail "dpkg -i azver-agent"; }
    expect_status azver-agent "install ok installed"
    expect_mode /usr/bin/azver-agent "755 root:root"
    check "/usr/bin/azver-agent is a static binary" grep -q 'static' <(file -b /usr/bin/azver-agent)
    expect_mode /usr/lib/systemd/system/azver-agent.service "644 root:root"
    expect_mode /etc/azver/agent.toml "644 root:root"
    expect_mode /etc/azver/agent.env "600 root:root"
    cat > "$TMP/agent.env.expected" <<'EOF'
AZVER_COLLECTOR=https://127.0.0.1:9
AZVER_ENROLL_SECRET=s3cr3t+/=
AZVER_ROLE=build-runner
AZVER_LABELS='team=ci,site=test lab'
EOF
    check "agent.env holds the installer's settings" diff <(grep -v '^#' /etc/azver/agent.env) "$TMP/agent.env.expected"
    if command -v systemctl >/dev/null; then
        check "azver-agent.service is enabled" \
            test "$(readlink -f /etc/systemd/system/multi-user.target.wants/azver-agent.service)" = /usr/lib/systemd/system/azver-agent.service
    else
        skip "enablement of azver-agent.service (no systemctl here)"
    fi
    if [ -d /run/systemd/system ]; then
        echo "  note: systemd runs this boot, so postinst started azver-agent (collector: a closed loopback port)"
    fi

    section "deb: the installed agent runs with the packaged settings"
    check "azver-agent --version says $VERSION" grep -q "$VERSION" <(/usr/bin/azver-agent --version)
    (set -a && . /etc/azver/agent.env && /usr/bin/azver-agent config check) > "$TMP/config.txt" 2>&1 \
        || { cat "$TMP/config.txt"; fail "azver-agent config check with /etc/azver/agent.toml and agent.env"; }
    check "config check shows the collector from agent.env" grep -q '127.0.0.1:9' "$TMP/config.txt"
    check "config check shows the role from agent.env" grep -q 'build-runner' "$TMP/config.txt"
    check "config check does not print the enrollment secret" bash -c "! grep -q 's3cr3t' '$TMP/config.txt'"
    code=0
    /usr/bin/azver-agent scan --format json > "$TMP/scan.json" 2> "$TMP/scan.err" || code=$?
    [ "$code" -eq 0 ] || { cat "$TMP/scan.err"; fail "azver-agent scan exited $code"; }
    check "scan --format json prints a JSON document" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "installations" in d' "$TMP/scan.json"

    section "deb: install the collector"
    dpkg -i "$COLLECTOR_DEB" > "$TMP/install.log" 2>&1 || { cat "$TMP/install.log"; fail "dpkg -i azver-collector"; }
    expect_status azver-collector "install ok installed"
    check "user azver-collector exists, a system user without a login shell" \
        bash -c '[ "$(getent passwd azver-collector | cut -d: -f7)" = /usr/sbin/nologin ] && [ "$(id -u azver-collector)" -lt 1000 ]'
    expect_mode /usr/bin/azver-collector "755 root:root"
    expect_mode /usr/lib/systemd/system/azver-collector.service "644 root:root"
    expect_mode /etc/azver/collector.toml "644 root:root"
    expect_mode /etc/azver/collector.env "640 root:root"
    expect_mode /var/lib/azver-collector "750 azver-collector:azver-collector"
    if command -v systemctl >/dev/null; then
        check "azver-collector.service is enabled" test -L /etc/systemd/system/multi-user.target.wants/azver-collector.service
    fi

    section "deb: systemd-analyze verify"
    if command -v systemd-analyze >/dev/null; then
        code=0
        systemd-analyze verify --man=no azver-agent.service azver-collector.service > "$TMP/verify.txt" 2>&1 || code=$?
        # Only lines about our units count; the host's other units are not ours to judge.
        if [ "$code" -ne 0 ] || grep -qi azver "$TMP/verify.txt"; then
            cat "$TMP/verify.txt"
            fail "systemd-analyze verify of the installed units (exit $code)"
        fi
        ok "systemd-analyze verify: both units clean"
    else
        skip "systemd-analyze verify (systemd-analyze is not installed)"
    fi

    section "deb: the packaged collector serves as its own user with the packaged config"
    # As the unit runs it: its user, its umask, its environment. setpriv execs (runuser would stay
    # in between and turn SIGTERM into its own exit code).
    serve_briefly "the packaged collector as azver-collector" sh -c 'umask 0027 && exec "$@"' sh \
        setpriv --reuid=azver-collector --regid=azver-collector --init-groups -- \
        env AZVER_DB=/var/lib/azver-collector/azver.db \
        /usr/bin/azver-collector serve --config /etc/azver/collector.toml --listen 127.0.0.1:0
    expect_mode /var/lib/azver-collector/azver.db "640 azver-collector:azver-collector"

    section "deb: upgrade keeps the node key, conffile edits and install-time settings"
    mkdir -p /var/lib/azver
    head -c 32 /dev/urandom > /var/lib/azver/node-key
    chmod 0600 /var/lib/azver/node-key
    key_sum=$(sha256sum /var/lib/azver/node-key)
    echo "# a local edit" >> /etc/azver/agent.toml
    env_sum=$(sha256sum /etc/azver/agent.env)
    db_sum=$(sha256sum /var/lib/azver-collector/azver.db)
    # The same package with a higher version: what an upgrade through a repository does.
    for deb in "$AGENT_DEB" "$COLLECTOR_DEB"; do
        rm -rf "$TMP/repack"
        dpkg-deb -R "$deb" "$TMP/repack"
        sed -i "s/^Version: .*/Version: $VERSION+ci1/" "$TMP/repack/DEBIAN/control"
        dpkg-deb --root-owner-group -b "$TMP/repack" "$TMP/$(basename "$deb" .deb)-ci1.deb" >/dev/null
    done
    AZVER_COLLECTOR=https://127.0.0.1:10 dpkg -i "$TMP/azver-agent_${VERSION}_amd64-ci1.deb" \
        "$TMP/azver-collector_${VERSION}_amd64-ci1.deb" > "$TMP/upgrade.log" 2>&1 \
        || { cat "$TMP/upgrade.log"; fail "dpkg -i of the upgraded packages"; }
    check "agent upgraded to $VERSION+ci1" test "$(dpkg-query -W -f='${Version}' azver-agent)" = "$VERSION+ci1"
    check "node key kept across the upgrade" test "$(sha256sum /var/lib/azver/node-key)" = "$key_sum"
    check "agent.toml local edit kept" grep -qx '# a local edit' /etc/azver/agent.toml
    check "agent.env not rewritten by the upgrade" test "$(sha256sum /etc/azver/agent.env)" = "$env_sum"
    check "fleet database kept across the upgrade" test "$(sha256sum /var/lib/azver-collector/azver.db)" = "$db_sum"
    dpkg -i "$TMP/azver-agent_${VERSION}_amd64-ci1.deb" > "$TMP/reinstall.log" 2>&1 || { cat "$TMP/reinstall.log"; fail "dpkg -i again (reinstall)"; }
    check "node key kept across a reinstall" test "$(sha256sum /var/lib/azver/node-key)" = "$key_sum"

    section "deb: remove keeps conffiles and state"
    dpkg -r azver-agent azver-collector > "$TMP/remove.log" 2>&1 || { cat "$TMP/remove.log"; fail "dpkg -r"; }
    expect_status azver-agent "deinstall ok config-files"
    expect_status azver-collector "deinstall ok config-files"
    expect_absent /usr/bin/azver-agent
    expect_absent /usr/bin/azver-collector
    expect_absent /usr/lib/systemd/system/azver-agent.service
    check "agent.toml (with the local edit) kept on remove" grep -qx '# a local edit' /etc/azver/agent.toml
    expect_present /etc/azver/agent.env
    expect_present /etc/azver/collector.env
    check "node key kept on remove" test "$(sha256sum /var/lib/azver/node-key)" = "$key_sum"
    expect_present /var/lib/azver-collector/azver.db

    section "deb: purge removes everything"
    dpkg -P azver-agent azver-collector > "$TMP/purge.log" 2>&1 || { cat "$TMP/purge.log"; fail "dpkg -P"; }
    for p in azver-agent azver-collector; do
        case $(deb_status "$p") in
            not-installed | "unknown ok not-installed") ok "dpkg no longer knows $p" ;;
            *) fail "after purge, dpkg status of $p is $(deb_status "$p")" ;;
        esac
    done
    expect_absent /etc/azver
    expect_absent /var/lib/azver
    expect_absent /var/lib/azver-collector
    expect_absent /etc/systemd/system/multi-user.target.wants/azver-agent.service
    expect_absent /etc/systemd/system/multi-user.target.wants/azver-collector.service

    section "deb: an install without settings writes no agent.env"
    env -u AZVER_COLLECTOR -u AZVER_ENROLL_SECRET -u AZVER_ROLE -u AZVER_LABELS -u AZVER_CA_CERT \
        dpkg -i "$AGENT_DEB" > "$TMP/install.log" 2>&1 || { cat "$TMP/install.log"; fail "dpkg -i without settings"; }
    expect_absent /etc/azver/agent.env
    check "postinst says how to configure the collector" grep -q 'no collector configured' "$TMP/install.log"
    dpkg -P azver-agent > /dev/null 2>&1 || fail "dpkg -P azver-agent"
    expect_absent /var/lib/azver
fi

# ---------------------------------------------------------------------------------------------
# aarch64 (on request: it doubles the Linux build time)
if [ "${AZVER_TEST_AARCH64:-0}" = 1 ]; then
    if AZVER_ARCHES=aarch64 build deb; then
        section "aarch64: packages and binaries"
        rm -rf "$TMP/arm64"
        for pkg in azver-agent azver-collector; do
            deb=$PKGS/${pkg}_${VERSION}_arm64.deb
            check "$pkg arm64 deb is for arm64" test "$(dpkg-deb -f "$deb" Architecture)" = arm64
            dpkg-deb -x "$deb" "$TMP/arm64"
            check "$pkg for aarch64 is a static ARM aarch64 binary" \
                grep -q 'ARM aarch64.*statically linked' <(file -b "$TMP/arm64/usr/bin/$pkg")
        done
        if command -v qemu-aarch64 >/dev/null || packaging/build.sh --install-debs qemu-user >/dev/null; then
            check "the aarch64 agent runs (qemu-aarch64)" grep -q "$VERSION" <(qemu-aarch64 "$TMP/arm64/usr/bin/azver-agent" --version)
            serve_briefly "the aarch64 collector (qemu-aarch64)" \
                qemu-aarch64 "$TMP/arm64/usr/bin/azver-collector" serve --db "$TMP/arm64.db" --listen 127.0.0.1:0
            check "the aarch64 collector's database is SQLite" grep -q 'SQLite' <(file -b "$TMP/arm64.db")
        else
            skip "running the aarch64 binaries (qemu-user cannot be installed)"
        fi
        if AZVER_ARCHES=aarch64 build rpm; then
            for pkg in azver-agent azver-collector; do
                check "$pkg aarch64 rpm is for aarch64" \
                    test "$(rpm -qp --qf '%{ARCH}' "$PKGS/$pkg-$VERSION-1.aarch64.rpm" 2>/dev/null)" = aarch64
            done
        fi
    fi
else
    section "aarch64: not requested (AZVER_TEST_AARCH64=1 builds the arm64 debs and runs them under qemu)"
fi

# ---------------------------------------------------------------------------------------------
# rpm
if build rpm; then
    section "rpm: contents"
    for pkg in azver-agent azver-collector; do
        rpm_file=$PKGS/$pkg-$VERSION-1.x86_64.rpm
        expect_present "$rpm_file"
        check "$pkg rpm: digests verify" grep -q 'digests OK' <(rpm -K --nosignature "$rpm_file" 2>&1)
        check "$pkg rpm: name, version, arch" \
            test "$(rpm -qp --qf '%{NAME} %{VERSION}-%{RELEASE} %{ARCH}' "$rpm_file" 2>/dev/null)" = "$pkg $VERSION-1 x86_64"
        rpm -qpl "$rpm_file" 2>/dev/null > "$TMP/rpm-files.txt"
        for f in /usr/bin/$pkg /usr/lib/systemd/system/$pkg.service /etc/azver; do
            check "$pkg rpm lists $f" grep -qx "$f" "$TMP/rpm-files.txt"
        done
        check "$pkg rpm: /usr/bin/$pkg 0755 root" grep -qx "/usr/bin/$pkg -rwxr-xr-x root root" \
            <(rpm -qp --qf '[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME}\n]' "$rpm_file" 2>/dev/null)
        rpm -qp --scripts "$rpm_file" 2>/dev/null > "$TMP/scripts.txt"
        for phase in preinstall postinstall preuninstall postuninstall; do
            awk -v p="$phase" '/^[a-z]+ scriptlet \(using/ {on = ($1 == p); next} on' "$TMP/scripts.txt" > "$TMP/$phase.sh"
            [ -s "$TMP/$phase.sh" ] || fail "$pkg rpm has no $phase scriptlet"
            check "$pkg rpm: $phase scriptlet parses (dash -n)" dash -n "$TMP/$phase.sh"
        done
    done
    check "agent rpm: agent.toml is %config(noreplace)" grep -qx '/etc/azver/agent.toml cn' \
        <(rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' "$PKGS/azver-agent-$VERSION-1.x86_64.rpm" 2>/dev/null)
    check "collector rpm: collector.env is a config file" grep -qx /etc/azver/collector.env \
        <(rpm -qp --configfiles "$PKGS/azver-collector-$VERSION-1.x86_64.rpm" 2>/dev/null)
    check "collector rpm creates its user before install" grep -q 'useradd --system' \
        <(rpm -qp --scripts "$PKGS/azver-collector-$VERSION-1.x86_64.rpm" 2>/dev/null)
fi

# ---------------------------------------------------------------------------------------------
# msi
if build msi; then
    MSI=$PKGS/azver-agent-$VERSION-x64.msi
    EXE=target/x86_64-pc-windows-gnu/$AZVER_PROFILE/azver-agent.exe
    section "msi: tables"
    check "the Windows exe is PE32+" grep -q 'PE32+ executable (console) x86-64' <(file -b "$EXE")
    msiinfo export "$MSI" ServiceInstall > "$TMP/ServiceInstall.idt"
    check "ServiceInstall: azver-agent, own process, auto start, LocalSystem, run --windows-service" \
        grep -qP '^AgentService\tazver-agent\tazver agent\t16\t2\t1\t\t\tLocalSystem\t\trun --windows-service\tAgentExe\t' "$TMP/ServiceInstall.idt"
    msiinfo export "$MSI" ServiceControl > "$TMP/ServiceControl.idt"
    check "ServiceControl: stops on install and uninstall, removes on uninstall, waits" \
        grep -qP '^AgentServiceStop\tazver-agent\t162\t\t1\tAgentExe' "$TMP/ServiceControl.idt"
    check "ServiceControl: starts on install" grep -qP '^AgentServiceStart\tazver-agent\t1\t\t0\tAgentExe' "$TMP/ServiceControl.idt"
    msiinfo export "$MSI" Registry > "$TMP/Registry.idt"
    msiinfo export "$MSI" Component > "$TMP/Component.idt"
    for pair in Version:ProductVersion CollectorUrl:COLLECTOR_URL EnrollSecret:ENROLL_SECRET Role:ROLE Labels:LABELS; do
        name=${pair%%:*}
        property=${pair#*:}
        check "Registry: HKLM\\SOFTWARE\\azver\\Agent $name = [$property]" \
            grep -qP "^\S+\t2\tSOFTWARE\\\\azver\\\\Agent\t$name\t\[$property\]\tReg$name\r?$" "$TMP/Registry.idt"
        if [ "$name" != Version ]; then
            check "Component Reg$name is written only when $property is given" \
                grep -qP "^Reg$name\t\{[0-9A-F-]+\}\tTARGETDIR\t260\t$property\t" "$TMP/Component.idt"
        fi
    done
    check "Component RegVersion is unconditional" grep -qP '^RegVersion\t\{[0-9A-F-]+\}\tTARGETDIR\t260\t\t' "$TMP/Component.idt"
    msiinfo export "$MSI" Property > "$TMP/Property.idt"
    check "MsiHiddenProperties hides ENROLL_SECRET" grep -qP '^MsiHiddenProperties\tENROLL_SECRET\r?$' "$TMP/Property.idt"
    check "ProductVersion is ${VERSION%%[-+]*}" grep -qP "^ProductVersion\t${VERSION%%[-+]*}\r?$" "$TMP/Property.idt"
    check "SecureCustomProperties lets the four settings through" \
        grep -qP '^SecureCustomProperties\t.*COLLECTOR_URL;ENROLL_SECRET;ROLE;LABELS' "$TMP/Property.idt"
    check "UpgradeCode is the fixed one" grep -qP '^UpgradeCode\t\{6D26B5F0-B11C-445F-89DD-7F45019202E1\}' "$TMP/Property.idt"
    check "Upgrade table: major upgrade of earlier versions" \
        grep -qP '^\{6D26B5F0-B11C-445F-89DD-7F45019202E1\}\t\t[0-9.]+\t\t1\t\tWIX_UPGRADE_DETECTED' <(msiinfo export "$MSI" Upgrade)
    check "InstallExecuteSequence: RemoveExistingProducts before the install" \
        grep -qP '^RemoveExistingProducts\t\t1401' <(msiinfo export "$MSI" InstallExecuteSequence)
    check "upgrades restore COLLECTOR_URL from the registry" \
        grep -qP '^RestoreCollectorUrl\tNOT COLLECTOR_URL AND SAVED_COLLECTOR_URL\t' <(msiinfo export "$MSI" InstallExecuteSequence)
    mkdir -p "$TMP/msi"
    (cd "$TMP/msi" && msiextract "$MSI" > /dev/null)
    extracted=$(find "$TMP/msi" -name azver-agent.exe | head -n 1)
    check "the MSI carries azver-agent.exe" test -n "$extracted"
    check "the exe in the MSI is the one built" cmp -s "$extracted" "$EXE"
    code1=$(msiinfo export "$MSI" Property | grep -P '^ProductCode\t' | cut -f2)
    packaging/build.sh msi > /dev/null 2>&1 || fail "packaging/build.sh msi (second build)"
    code2=$(msiinfo export "$MSI" Property | grep -P '^ProductCode\t' | cut -f2)
    check "each build gets a new product code ($code1, $code2)" test "$code1" != "$code2"
fi

# ---------------------------------------------------------------------------------------------
section "macOS: the launchd plist and the pkg and Jamf scripts"
# plutil -lint on a Mac; here Python's plistlib, which parses the same XML plist format.
check "com.azver.agent.plist parses: runs /usr/local/bin/azver-agent run at load, restarted on failure" \
    python3 -c '
import plistlib, sys
with open(sys.argv[1], "rb") as f:
    p = plistlib.load(f)
assert p["Label"] == "com.azver.agent", p["Label"]
assert p["ProgramArguments"] == ["/usr/local/bin/azver-agent", "run"], p["ProgramArguments"]
assert p["RunAtLoad"] is True and p["KeepAlive"] == {"SuccessfulExit": False}, p
assert isinstance(p["ThrottleInterval"], int) and p["ThrottleInterval"] >= 10, p["ThrottleInterval"]
assert p["StandardErrorPath"].startswith("/Library/Logs/azver/"), p["StandardErrorPath"]
' packaging/macos/com.azver.agent.plist
# Each with the shell its first line names: the pkg and Jamf scripts are sh (macOS runs them with
# /bin/sh, bash in POSIX mode), build-pkg.sh is bash.
for script in packaging/macos/scripts/* packaging/macos/*.sh; do
    shell=sh
    head -n 1 "$script" | grep -q bash && shell=bash
    check "$script parses ($shell -n)" "$shell" -n "$script"
done

section "macOS: cargo check of the agent for aarch64-apple-darwin and x86_64-apple-darwin"
# rustls uses ring, whose build script compiles C and assembly for the target: zig (PyPI's
# `ziglang`, a clang with macOS's libc headers) is that C compiler here. cc-rs adds clang's
# target flags for Apple (-arch, --target=...-apple-macosx); the wrapper replaces them with zig's.
# `cargo check` compiles and type-checks every crate for the target; it does not link (no macOS
# SDK or linker here), so it proves the code builds, not that it runs: docs/packaging.md.
ZIG_VENV=$ROOT/target/zig-venv
ZIG_VERSION=0.13.0
if [ ! -x "$ZIG_VENV/bin/python" ] || [ "$("$ZIG_VENV/bin/python" -m ziglang version 2>/dev/null)" != "$ZIG_VERSION" ]; then
    { python3 -m venv "$ZIG_VENV" && "$ZIG_VENV/bin/pip" install --quiet "ziglang==$ZIG_VERSION"; } > "$TMP/zig.log" 2>&1 \
        || { cat "$TMP/zig.log"; rm -rf "$ZIG_VENV"; }
fi
if [ -x "$ZIG_VENV/bin/python" ] && "$ZIG_VENV/bin/python" -m ziglang version > /dev/null 2>&1; then
    mkdir -p "$ROOT/target/zig-cc"
    for arch in aarch64 x86_64; do
        triple=$arch-apple-darwin
        cc=$ROOT/target/zig-cc/$triple-cc
        ar=$ROOT/target/zig-cc/$triple-ar
        {
            echo '#!/bin/sh'
            echo "# cc for $triple through zig (written by scripts/test-packaging.sh): drops the"
            echo "# target flags cc-rs adds for Apple clang; zig's -target replaces them."
            echo 'skip='
            echo 'for arg do'
            echo '    shift'
            echo '    if [ -n "$skip" ]; then skip=; continue; fi'
            echo '    case $arg in'
            echo '        -arch | -target) skip=1; continue ;;'
            echo '        --target=* | -mmacosx-version-min=*) continue ;;'
            echo '    esac'
            echo '    set -- "$@" "$arg"'
            echo 'done'
            echo "exec '$ZIG_VENV/bin/python' -m ziglang cc -target $arch-macos.11.0 \"\$@\""
        } > "$cc"
        printf '#!/bin/sh\nexec %s -m ziglang ar "$@"\n' "'$ZIG_VENV/bin/python'" > "$ar"
        chmod +x "$cc" "$ar"
        if ! rustup target list --installed | grep -qx "$triple" && ! rustup target add "$triple" > "$TMP/rustup.log" 2>&1; then
            skip "macOS compile check for $triple: rustup target add $triple failed ($(tail -n 1 "$TMP/rustup.log"))"
            continue
        fi
        var=${triple//-/_}
        code=0
        env "CC_$var=$cc" "AR_$var=$ar" cargo check --locked -p azver-agent --lib --bins --target "$triple" \
            > "$TMP/check-$triple.log" 2>&1 || code=$?
        [ "$code" -eq 0 ] || { tail -n 40 "$TMP/check-$triple.log"; fail "cargo check -p azver-agent --target $triple (zig cc for ring)"; }
        ok "cargo check -p azver-agent --target $triple (ring's C compiled by zig $ZIG_VERSION)"
    done
else
    skip "macOS compile check: PyPI's ziglang $ZIG_VERSION (the C compiler for ring) cannot be installed here"
fi

# ---------------------------------------------------------------------------------------------
# release: SBOMs and SHA256SUMS (last: it empties target/packages and builds everything again,
# which cargo's cache makes a matter of packing)
if build release; then
    section "release: SHA256SUMS and one CycloneDX SBOM per package"
    (cd "$PKGS" && sha256sum --quiet -c SHA256SUMS) > "$TMP/sums.txt" 2>&1 || { cat "$TMP/sums.txt"; fail "sha256sum -c SHA256SUMS"; }
    ok "sha256sum -c SHA256SUMS passes"
    for f in "$PKGS"/*.deb "$PKGS"/*.rpm "$PKGS"/*.msi; do
        name=$(basename "$f")
        check "SHA256SUMS lists $name and its SBOM" \
            test "$(grep -cE "  ($(printf '%s' "$name" | sed 's/[.+]/\\&/g'))(\.cdx\.json)?$" "$PKGS/SHA256SUMS")" -eq 2
        case $name in
            azver-agent*.msi) want="azver-agent windows-service,winreg,tonic,rustls rusqlite" ;;
            azver-agent*) want="azver-agent tonic,rustls windows-service,winreg,rusqlite" ;;
            azver-collector*) want="azver-collector rusqlite,tonic,tokio-postgres windows-service,winreg" ;;
        esac
        read -r component present absent <<< "$want"
        check "$name.cdx.json: CycloneDX 1.5 for $component, with ${present//,/, } and without ${absent//,/, }" python3 -c '
import json, sys
bom = json.load(open(sys.argv[1]))
assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5", (bom["bomFormat"], bom["specVersion"])
assert bom["metadata"]["component"]["name"] == sys.argv[2], bom["metadata"]["component"]
names = {c["name"]: c for c in bom["components"]}
for name in sys.argv[3].split(","):
    assert name in names, f"{name} missing"
    assert names[name]["purl"].startswith(f"pkg:cargo/{name}@"), names[name]["purl"]
for name in sys.argv[4].split(","):
    assert name not in names, f"{name} listed though the binary for this target does not have it"
' "$f.cdx.json" "$component" "$present" "$absent"
    done
    cp "$PKGS/SHA256SUMS" "$TMP/SHA256SUMS"
    first=$(head -n 1 "$TMP/SHA256SUMS" | cut -c 67-)
    cp "$PKGS/$first" "$TMP/$first"
    printf 'x' >> "$TMP/$first"
    check "a changed byte in $first fails the sums" bash -c "cd '$TMP' && ! grep -F '  $first' SHA256SUMS | sha256sum --quiet -c - 2>/dev/null"
fi

section "done in $(($(date +%s) - START))s"
echo "packaging: $PASSED passed, 0 failed, $SKIPPED skipped"
