#!/usr/bin/env bash
# The Linux packages under a real systemd (docs/packaging.md, "Linux units under systemd"):
# boots a Debian 12 container with systemd as PID 1 (systemd-nspawn on a debootstrapped root,
# private network), installs both .debs there and checks that
#   - the collector unit and the agent unit start, and the agent's report reaches the collector;
#   - `systemctl kill -s KILL azver-agent` makes systemd restart the agent (Restart=on-failure),
#     which reports again;
#   - `systemctl stop` ends both cleanly (exit 0, result success);
#   - `systemd-analyze security` rates both units below 2.0 (the output is kept in
#     target/systemd-e2e/security-*.txt and published in docs/packaging.md).
# If this machine cannot boot such a container, it prints SKIPPED with the exact error.
#
#   packaging/systemd-e2e.sh        # builds the .debs if needed (AZVER_PROFILE, default packaging)
#
# Needs root. The debootstrapped root is cached in target/systemd-root/ (about 40 s to make, from
# the Debian mirror apt uses); each run boots a fresh copy of it. Prints `N passed, N failed,
# N skipped` last; exits 1 when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export AZVER_PROFILE=${AZVER_PROFILE:-packaging}
export AZVER_ARCHES=x86_64
export CARGO_TERM_PROGRESS_WHEN=never
WORK=$ROOT/target/systemd-e2e
CACHE=$ROOT/target/systemd-root
SUITE=bookworm
VERSION=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
E2E_NAME=systemd-e2e
. packaging/e2e-lib.sh
# Highest `systemd-analyze security` exposure a unit may have.
MAX_EXPOSURE=2.0

# The sandbox cannot do it: say exactly why, count it as skipped, not passed.
cannot() {
    skip "$*"
    finish
    exit 0
}

[ "$(id -u)" -eq 0 ] || abort "needs root (debootstrap, systemd-nspawn)"

# ---------------------------------------------------------------------------------------------
section "prerequisites"
packaging/build.sh --install-debs systemd-container debootstrap \
    || cannot "Debian's systemd-container and debootstrap cannot be installed here"
packaging/build.sh deb || abort "packaging/build.sh deb"
AGENT_DEB=$ROOT/target/packages/azver-agent_${VERSION}_amd64.deb
COLLECTOR_DEB=$ROOT/target/packages/azver-collector_${VERSION}_amd64.deb

if [ ! -e "$CACHE/.complete" ]; then
    # The mirror apt already uses (deb822 or one-line sources), so no other network is needed.
    MIRROR=$(sed -n 's/^URIs: *\(http[^ ]*debian\/\?\)$/\1/p; s/^deb \(\[[^]]*\] \)\?\(http[^ ]*debian\/\?\) .*/\2/p' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1)
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
    section "debootstrap $SUITE from $MIRROR into ${CACHE#"$ROOT"/} (cached for later runs)"
    rm -rf "$CACHE"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus "$SUITE" "$CACHE" "$MIRROR" \
        > "$ROOT/target/systemd-root.log" 2>&1 \
        || cannot "debootstrap $SUITE from $MIRROR failed: $(tail -n 1 "$ROOT/target/systemd-root.log")"
    touch "$CACHE/.complete"
fi

section "boot a fresh copy with systemd as PID 1"
rm -rf "$WORK"
mkdir -p "$WORK"
MACHINE_ROOT=$WORK/root
cp -a "$CACHE" "$MACHINE_ROOT" || abort "copying the cached root"
rm -f "$MACHINE_ROOT/.complete"
# /var/tmp, not /tmp: the container's systemd mounts a fresh tmpfs on /tmp at boot, hiding files put there.
cp "$AGENT_DEB" "$COLLECTOR_DEB" "$MACHINE_ROOT/var/tmp/"
# No host D-Bus or machined here: --register=no and --keep-unit keep nspawn off the host's bus.
# --private-network: the container has its own loopback, so its collector cannot clash with
# anything on the host.
systemd-nspawn --quiet --directory="$MACHINE_ROOT" --machine="azver-e2e-$$" --register=no --keep-unit \
    --private-network --boot > "$WORK/console.log" 2>&1 &
NSPAWN=$!
LEADER=
cleanup() {
    if [ -n "$LEADER" ]; then
        nsenter -t "$LEADER" -m -u -i -n -p -- /bin/systemctl poweroff > /dev/null 2>&1
    fi
    local i
    for i in $(seq 1 60); do
        kill -0 "$NSPAWN" 2>/dev/null || return 0
        sleep 0.5
    done
    kill -KILL "$NSPAWN" 2>/dev/null
}
trap cleanup EXIT
for _ in $(seq 1 100); do
    LEADER=$(pgrep -P "$NSPAWN" -x systemd | head -n 1)
    [ -n "$LEADER" ] && break
    kill -0 "$NSPAWN" 2>/dev/null || break
    sleep 0.2
done
[ -n "$LEADER" ] || cannot "systemd-nspawn --boot did not start systemd: $(grep -v '^$' "$WORK/console.log" | tail -n 2 | tr '\n' ' ')"
# inside COMMAND...: runs a command inside the container (its mounts, network, PIDs).
inside() { nsenter -t "$LEADER" -m -u -i -n -p -- env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
state=$(inside timeout 120 systemctl is-system-running --wait 2>/dev/null)
case $state in
    running | degraded) ok "systemd is PID 1 in the container and the system is up ($state)" ;;
    *) cannot "the container's systemd did not come up (is-system-running: ${state:-no answer})" ;;
esac
check "systemd in the container is PID 1" test "$(inside cat /proc/1/comm)" = systemd

# ---------------------------------------------------------------------------------------------
section "install both packages"
inside dpkg -i "/var/tmp/$(basename "$COLLECTOR_DEB")" > "$WORK/install-collector.log" 2>&1 \
    || { cat "$WORK/install-collector.log"; abort "dpkg -i azver-collector in the container"; }
check "the collector unit is active after install" inside systemctl is-active --quiet azver-collector
inside env AZVER_COLLECTOR=http://127.0.0.1:50051 AZVER_ROLE=server AZVER_LABELS=site=nspawn \
    dpkg -i "/var/tmp/$(basename "$AGENT_DEB")" > "$WORK/install-agent.log" 2>&1 \
    || { cat "$WORK/install-agent.log"; abort "dpkg -i azver-agent in the container"; }
check "the agent unit is active after install" inside systemctl is-active --quiet azver-agent
check "both units are enabled" inside systemctl is-enabled --quiet azver-agent azver-collector

# delivered: the agent's status counts that many delivered reports (or more).
delivered() {
    inside azver-agent status --format json 2> /dev/null > "$WORK/status.json" || return 1
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["delivered"] >= int(sys.argv[2]) else 1)' \
        "$WORK/status.json" "$1"
}
stored() {
    inside azver-collector hosts --db /var/lib/azver-collector/azver.db --format json 2> /dev/null > "$WORK/hosts.json" || return 1
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if len(d) == 1 and d[0]["os_family"] == "linux" and d[0]["role"] == "server" and d[0]["labels"] == {"site": "nspawn"} else 1)
' "$WORK/hosts.json"
}
wait_for "the agent's report reached the packaged collector (os_family linux, role, labels from the install)" 60 stored
wait_for "the agent's status counts the delivered report" 30 delivered 1
prop() { inside systemctl show -P "$2" "$1"; }

# ---------------------------------------------------------------------------------------------
section "the agent comes back after systemctl kill -s KILL"
PID_BEFORE=$(prop azver-agent MainPID)
inside systemctl kill -s KILL azver-agent
# Restart=on-failure, RestartSec=30s.
restarted() { [ "$(prop azver-agent NRestarts)" -ge 1 ] && [ "$(prop azver-agent ActiveState)" = active ] && [ "$(prop azver-agent MainPID)" != "$PID_BEFORE" ]; }
wait_for "systemd restarted the killed agent (NRestarts >= 1, a new main PID)" 60 restarted
wait_for "the restarted agent reports again" 60 delivered 2

# ---------------------------------------------------------------------------------------------
section "systemctl stop ends both units cleanly"
inside systemctl stop azver-agent azver-collector
for unit in azver-agent azver-collector; do
    check "$unit stopped: inactive, result success, main process exit 0" \
        test "$(prop "$unit" ActiveState) $(prop "$unit" Result) $(prop "$unit" ExecMainStatus)" = "inactive success 0"
done

# ---------------------------------------------------------------------------------------------
section "systemd-analyze security (exposure below $MAX_EXPOSURE)"
for unit in azver-agent azver-collector; do
    inside systemd-analyze security --no-pager "$unit.service" > "$WORK/security-$unit.txt" 2>&1
    exposure=$(sed -n "s/.*Overall exposure level for $unit.service: \([0-9.]*\).*/\1/p" "$WORK/security-$unit.txt" | tr -d '\033' | head -n 1)
    if [ -z "$exposure" ]; then
        bad "systemd-analyze security $unit.service gave no exposure level: $(tail -n 1 "$WORK/security-$unit.txt")"
    elif python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$exposure" "$MAX_EXPOSURE"; then
        ok "$unit.service exposure $exposure (< $MAX_EXPOSURE; details in ${WORK#"$ROOT"/}/security-$unit.txt)"
    else
        grep -E '^✗' "$WORK/security-$unit.txt" | head -n 40
        bad "$unit.service exposure $exposure is not below $MAX_EXPOSURE"
    fi
done

finish
