#!/usr/bin/env bash
# The Windows journey for real, under Debian's Wine, in a fresh Wine prefix, against real
# collectors on 127.0.0.1 (docs/packaging.md, "Windows under Wine"):
#   1. msiexec /i with COLLECTOR_URL, ROLE, LABELS: exit 0, the registry values, the service
#      RUNNING, a report stored with os_family windows, the role and the labels; `status` in a
#      console reads the service's state;
#   2. a bad setting (LABELS=probe): the install still succeeds, the service runs, says why in its
#      log file, the event log and `status`, and picks up the fixed value without a restart;
#   3. ENROLL_SECRET against a collector that requires enrollment: enrolled, the registry value
#      gone, the node key in the state dir, reports accepted;
#   4. live `azver-agent.exe scan` and `check` against a Windows layout made in the prefix
#      (registry, CLI2, Az modules for all users, a user's Documents, PSModulePath);
#   5. a major upgrade to a higher version keeps host id, node key and settings and reports
#      again; a downgrade is refused;
#   6. msiexec /x removes service, files and registry key and keeps the state dir.
# What Wine cannot do is reported as SKIPPED with the reason, never counted as passed.
#
#   packaging/windows-e2e.sh            # builds what it needs (AZVER_PROFILE, default packaging)
#
# Needs root for apt (wine, wine64, msitools, wixl, mingw-w64). Prints `N passed, N failed,
# N skipped` last; exits 1 when anything failed, 3 when a prerequisite cannot be installed.
# Logs and the collectors' databases stay in target/windows-e2e/ for a look after a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export AZVER_PROFILE=${AZVER_PROFILE:-packaging}
export CARGO_TERM_PROGRESS_WHEN=never
WORK=$ROOT/target/windows-e2e
LOGS=$WORK/logs
VERSION=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
BASE=${VERSION%%[-+]*}
# The upgrade: the same agent packaged with the next patch version.
NEXT=${BASE%.*}.$((${BASE##*.} + 1))
E2E_NAME=windows-e2e
. packaging/e2e-lib.sh

# ---------------------------------------------------------------------------------------------
section "prerequisites"
packaging/build.sh --install-debs wine wine64 msitools wixl gcc-mingw-w64-x86-64 \
    || { echo "SKIPPED: windows-e2e: Debian's wine, msitools or mingw-w64 cannot be installed here"; exit 3; }
cargo build --locked -p azver-collector --bin azver-collector || abort "cargo build of the collector"
COLLECTOR=$ROOT/target/debug/azver-collector
# The MSI for this version and one with the next patch version; the same agent inside.
AZVER_VERSION=$BASE packaging/build.sh msi || abort "packaging/build.sh msi ($BASE)"
AZVER_VERSION=$NEXT packaging/build.sh msi || abort "packaging/build.sh msi ($NEXT)"
MSI1=$ROOT/target/packages/azver-agent-$BASE-x64.msi
MSI2=$ROOT/target/packages/azver-agent-$NEXT-x64.msi
EXE=$ROOT/target/x86_64-pc-windows-gnu/$AZVER_PROFILE/azver-agent.exe

# ---------------------------------------------------------------------------------------------
section "a fresh Wine prefix"
rm -rf "$WORK"
mkdir -p "$LOGS"
export WINEPREFIX=$WORK/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
COLLECTOR_PIDS=()
cleanup() {
    local pid
    for pid in "${COLLECTOR_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    wineserver -k 2>/dev/null
}
trap cleanup EXIT
wineboot --init > "$LOGS/wineboot-init.out" 2>&1
wineserver -w
# A persistent wineserver: without one, Wine ends services.exe and every service a few seconds
# after the last ordinary Wine process exits, and the next `wine` starts them again. (So from here
# on nothing waits with `wineserver -w`: it would wait for the persistent server forever.)
# Wine's own processes (services.exe and the services it starts) inherit wineboot's stderr; with
# the eventlog channel on, ReportEventW writes each event there, which is how this test sees the
# event log (Wine keeps none).
wineserver -p
WINEDEBUG=-all,err+eventlog wineboot > "$LOGS/wineboot.out" 2> "$LOGS/wine-events.log"
C=$WINEPREFIX/drive_c
[ -d "$C/windows/system32" ] || abort "wineboot did not create the prefix"

# Rust's standard library takes its random numbers from ProcessPrng in bcryptprimitives.dll
# (Windows 10 and later); Debian 12's Wine 8 lacks it, so give the prefix a stand-in built on
# RtlGenRandom (Wine 9 has its own).
mkdir -p "$WORK/shim"
cat > "$WORK/shim/bcryptprimitives.c" <<'EOF'
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
EOF
printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\n    ProcessPrng\n' > "$WORK/shim/bcryptprimitives.def"
x86_64-w64-mingw32-gcc -O2 -shared -o "$C/windows/system32/bcryptprimitives.dll" \
    "$WORK/shim/bcryptprimitives.c" "$WORK/shim/bcryptprimitives.def" -ladvapi32 \
    || abort "building the ProcessPrng stand-in"
ok "prefix ready: $(wine --version)"

# ---------------------------------------------------------------------------------------------
# Helpers

AGENT_KEY='HKLM\SOFTWARE\azver\Agent'
EVENT_SOURCE='HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\azver-agent'
STATE=$C/ProgramData/azver
INSTALLED_EXE="$C/Program Files/azver/azver-agent.exe"

# reg_value KEY NAME [VIEW]: the data of a registry value, or nothing (exit 1) when absent.
reg_value() {
    wine reg query "$1" /v "$2" "/reg:${3:-64}" 2>/dev/null | tr -d '\r' \
        | awk -v n="$2" '$1 == n && $2 ~ /^REG_/ { sub(/^[ \t]*[^ \t]+[ \t]+REG_[A-Z_]+[ \t]+/, ""); print; found = 1 } END { exit !found }'
}
key_absent() { ! wine reg query "$1" /reg:64 > /dev/null 2>&1; }
value_absent() { ! reg_value "$@" > /dev/null; }
# service_state: RUNNING, STOPPED, ... or nothing when the service does not exist.
service_state() { wine sc query azver-agent 2>/dev/null | tr -d '\r' | awk '$1 == "STATE" { print $4 }'; }
running() { [ "$(service_state)" = RUNNING ]; }
# msiexec ARGS...: runs it with a verbose log; sets MSI_CODE. Wine returns the exit code modulo
# 256 (1603 comes back as 67).
MSI_RUN=0
msiexec() {
    MSI_RUN=$((MSI_RUN + 1))
    MSI_LOG=$LOGS/msiexec-$MSI_RUN.log
    MSI_CODE=0
    wine msiexec "$@" /l*v "$(winepath -w "$MSI_LOG")" > "$LOGS/msiexec-$MSI_RUN.out" 2>&1 || MSI_CODE=$?
}
# start_collector NAME [ARGS...]: a collector on 127.0.0.1:0 with its own database; sets URL.
start_collector() {
    local name=$1
    shift
    "$COLLECTOR" serve --db "$WORK/$name.db" --listen 127.0.0.1:0 "$@" > "$LOGS/$name.out" 2> "$LOGS/$name.err" &
    COLLECTOR_PIDS+=($!)
    local i
    for i in $(seq 1 100); do
        grep -q '^listening on 127.0.0.1:' "$LOGS/$name.out" 2>/dev/null && break
        sleep 0.1
    done
    URL=http://$(sed -n 's/^listening on //p' "$LOGS/$name.out" | head -n 1)
    [ "$URL" != http:// ] || abort "collector $name did not start: $(cat "$LOGS/$name.err")"
}
# hosts_json DB: the collector's `hosts --format json`.
hosts_json() { "$COLLECTOR" hosts --db "$WORK/$1.db" --format json 2> /dev/null; }
# a host with a report from this agent in collector DB, with the given facts.
host_reported() {
    local db=$1 expr=$2
    hosts_json "$db" > "$WORK/$db-hosts.json" || return 1
    json_check "$WORK/$db-hosts.json" "len(d) == 1 and ($expr)"
}
agent_status() { wine "$INSTALLED_EXE" status --format json 2>"$LOGS/status.err" | tr -d '\r' > "$WORK/status.json"; }
# not_in_dir TEXT PATH...: no file under the paths contains TEXT.
not_in_dir() {
    local text=$1
    shift
    ! grep -rqsF -- "$text" "$@"
}
# live_result CODE NAME EXPRESSION: the last live run exited CODE and its JSON satisfies EXPRESSION.
live_result() { [ "$LIVE_CODE" -eq "$1" ] && json_check "$WORK/$2.json" "$3"; }
file_sum() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }

expect_installed() {
    local label=$1
    check "$label: azver-agent.exe is in Program Files\\azver" test -f "$INSTALLED_EXE"
    local svc=HKLM\\SYSTEM\\CurrentControlSet\\Services\\azver-agent
    # `sc qc` is not implemented by Wine: read the service's registry key instead.
    check "$label: the service starts automatically (Start=2)" test "$(reg_value "$svc" Start)" = 0x2
    check "$label: the service runs as LocalSystem" test "$(reg_value "$svc" ObjectName)" = LocalSystem
    check "$label: the service runs \"run --windows-service\"" \
        grep -Eq 'azver-agent\.exe"? run --windows-service$' <(reg_value "$svc" ImagePath)
    check "$label: the event log source azver-agent is registered (EventCreate.exe's messages)" \
        grep -qi 'System32\\EventCreate.exe$' <(reg_value "$EVENT_SOURCE" EventMessageFile)
    wait_for "$label: the service is RUNNING" 30 running
}
expect_uninstalled() {
    local label=$1
    check "$label: msiexec /x exits 0" test "$MSI_CODE" -eq 0
    check "$label: the service is gone" test -z "$(service_state)"
    check "$label: the program files are gone" test ! -e "$C/Program Files/azver"
    check "$label: the registry key $AGENT_KEY is gone" key_absent "$AGENT_KEY"
    check "$label: the event log source is gone" key_absent "$EVENT_SOURCE"
    check "$label: the state dir (host id) is kept" test -s "$STATE/host-id"
}

# ---------------------------------------------------------------------------------------------
section "1. install with COLLECTOR_URL, ROLE and LABELS"
start_collector open
OPEN_URL=$URL
msiexec /i "$(winepath -w "$MSI1")" /qn COLLECTOR_URL="$OPEN_URL" ROLE=build-runner LABELS="team=ci,site=wine lab"
check "msiexec /i exits 0" test "$MSI_CODE" -eq 0
check "registry: CollectorUrl" test "$(reg_value "$AGENT_KEY" CollectorUrl)" = "$OPEN_URL"
check "registry: Role" test "$(reg_value "$AGENT_KEY" Role)" = build-runner
check "registry: Labels" test "$(reg_value "$AGENT_KEY" Labels)" = "team=ci,site=wine lab"
check "registry: Version $BASE" test "$(reg_value "$AGENT_KEY" Version)" = "$BASE"
check "registry: no EnrollSecret when none was given" value_absent "$AGENT_KEY" EnrollSecret
expect_installed "install"
wait_for "the collector stored a report: os_family windows, role build-runner, the labels" 60 host_reported open \
    "d[0]['os_family'] == 'windows' and d[0]['role'] == 'build-runner' and d[0]['labels'] == {'team': 'ci', 'site': 'wine lab'}"
HOST_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["host_id"])' "$WORK/open-hosts.json" 2>/dev/null)
check "the state dir is C:\\ProgramData\\azver (the Known Folder, not the service's %ProgramData%)" \
    test "$(tr -d '\r\n' < "$STATE/host-id" 2>/dev/null)" = "$HOST_ID"
check "no state under C:\\users\\Public (the service's %ProgramData% under Wine)" test ! -e "$C/users/Public/azver"
agent_status
check "status in a console reads the service's state: its host id, a delivered report, service running" \
    json_check "$WORK/status.json" "d['host_id'] == '$HOST_ID' and d['delivered'] >= 1 and d['last_success_at'] and d.get('service') == 'running' and d['config_error'] is None"
check "the service logs to C:\\ProgramData\\azver\\logs" grep -qs 'azver-agent running' "$STATE"/logs/agent*.log

section "6. what Wine cannot show"
if grep -qs 'ChangeServiceConfig2' "$LOGS/wine-events.log" || grep -qis 'cannot set restart-on-failure' "$STATE"/logs/agent*.log; then
    skip "restart-on-failure actions: Wine does not implement service failure actions (ChangeServiceConfig2W SERVICE_CONFIG_FAILURE_ACTIONS); the agent sets them itself on Windows"
else
    skip "restart-on-failure actions: Wine's service manager never restarts a failed service, so they cannot be exercised here"
fi

section "uninstall"
msiexec /x "$(winepath -w "$MSI1")" /qn
expect_uninstalled "uninstall"

# ---------------------------------------------------------------------------------------------
section "2. a bad setting does not roll the install back; the service says why and retries"
msiexec /i "$(winepath -w "$MSI1")" /qn COLLECTOR_URL="$OPEN_URL" ROLE=developer LABELS=probe
check "msiexec /i with LABELS=probe exits 0 (no rollback)" test "$MSI_CODE" -eq 0
check "registry: Labels=probe as given" test "$(reg_value "$AGENT_KEY" Labels)" = probe
expect_installed "bad setting"
wait_for "the log file names the bad setting" 30 grep -qs 'Labels: \\"probe\\" is not KEY=VALUE\|Labels: "probe" is not KEY=VALUE' "$STATE"/logs/agent*.log
agent_status
check "status shows the configuration error and that the service is running" \
    json_check "$WORK/status.json" "'is not KEY=VALUE' in (d['config_error'] or '') and d.get('service') == 'running'"
check "status shows the service's own record of it (retrying)" \
    json_check "$WORK/status.json" "'is not KEY=VALUE' in (d['last_error'] or '') and 'retrying in' in d['last_error']"
if grep -q 'is not KEY=VALUE' "$LOGS/wine-events.log"; then
    ok "the error went to the event log (ReportEventW, seen through Wine's eventlog channel)"
else
    skip "event log: Wine's ReportEventW did not reach this prefix's eventlog channel, so the event cannot be seen here"
fi
wine reg add "$AGENT_KEY" /v Labels /t REG_SZ /d "team=ci,fixed=yes" /f /reg:64 > /dev/null 2>&1
wait_for "the fixed setting is picked up without a restart: a report with the new labels" 60 host_reported open \
    "d[0]['labels'] == {'team': 'ci', 'fixed': 'yes'} and d[0]['role'] == 'developer'"
check "the same host id as before the uninstall" test "$(tr -d '\r\n' < "$STATE/host-id")" = "$HOST_ID"
msiexec /x "$(winepath -w "$MSI1")" /qn
expect_uninstalled "uninstall after the fix"

# ---------------------------------------------------------------------------------------------
section "3. install with ENROLL_SECRET against a collector that requires enrollment"
SECRET=$("$COLLECTOR" secret create --db "$WORK/enrolled.db" --label wine 2> "$LOGS/secret.err" | tail -n 1)
[ -n "$SECRET" ] || abort "secret create: $(cat "$LOGS/secret.err")"
start_collector enrolled
ENROLLED_URL=$URL
rm -f "$STATE/node-key"
msiexec /i "$(winepath -w "$MSI1")" /qn COLLECTOR_URL="$ENROLLED_URL" ENROLL_SECRET="$SECRET" ROLE=developer LABELS=team=ci
check "msiexec /i exits 0" test "$MSI_CODE" -eq 0
expect_installed "enroll"
wait_for "enrolled: the collector stored a report" 60 host_reported enrolled "d[0]['os_family'] == 'windows'"
check "the EnrollSecret registry value is gone" value_absent "$AGENT_KEY" EnrollSecret
check "the node key is in the state dir" test -s "$STATE/node-key"
check "the secret is kept privately in the state dir (enroll-secret, for re-enrollment)" \
    test "$(tr -d '\r\n' < "$STATE/enroll-secret" 2>/dev/null)" = "$SECRET"
check "the secret is in no log and not in the status file" not_in_dir "$SECRET" "$STATE/logs" "$STATE/status.json"
if grep -q "ENROLL_SECRET" "$MSI_LOG" 2>/dev/null && grep -qF -- "$SECRET" "$MSI_LOG"; then
    skip "hidden MSI properties: Wine's msiexec writes ENROLL_SECRET's value to the verbose log although MsiHiddenProperties names it (Windows Installer hides it; the MSI table is checked by scripts/test-packaging.sh)"
elif grep -q "Property(" "$MSI_LOG" 2>/dev/null; then
    ok "the verbose log lists properties but not the secret's value"
else
    skip "hidden MSI properties: Wine's msiexec writes no property dump to the verbose log, so there is nothing to check"
fi
KEY_SUM=$(file_sum "$STATE/node-key")
HOST_ID=$(tr -d '\r\n' < "$STATE/host-id")
"$COLLECTOR" hosts --db "$WORK/enrolled.db" --format json > "$WORK/before-upgrade.json"
LAST_SEEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["last_seen"])' "$WORK/before-upgrade.json")

# ---------------------------------------------------------------------------------------------
section "4. live check and scan inside the prefix"
CLI2="$C/Program Files/Microsoft SDKs/Azure/CLI2"
mkdir -p "$CLI2/Lib/site-packages/azure/cli/core" "$CLI2/wbin"
printf '@echo off\r\n' > "$CLI2/wbin/az.cmd"
UNINSTALL='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall'
wine reg add "$UNINSTALL\\{AZVER-E2E-CLI-X64}" /v DisplayName /t REG_SZ /d "Microsoft Azure CLI (64-bit)" /f /reg:64 > /dev/null 2>&1
wine reg add "$UNINSTALL\\{AZVER-E2E-CLI-X64}" /v DisplayVersion /t REG_SZ /d 2.77.0 /f /reg:64 > /dev/null 2>&1
wine reg add "$UNINSTALL\\{AZVER-E2E-CLI-X64}" /v InstallLocation /t REG_SZ /d 'C:\Program Files\Microsoft SDKs\Azure\CLI2\' /f /reg:64 > /dev/null 2>&1
# psd1 DIR NAME VERSION: a module manifest as the gallery ships it (CRLF, nested ModuleVersion).
psd1() {
    mkdir -p "$1/$2/$3"
    printf "@{\r\nRootModule = '%s.psm1'\r\nModuleVersion = '%s'\r\nRequiredModules = @(@{ModuleName = 'Az.Accounts'; ModuleVersion = '1.0.0'; })\r\n}\r\n" \
        "$2" "$3" > "$1/$2/$3/$2.psd1"
}
psd1 "$C/Program Files/WindowsPowerShell/Modules" Az 14.3.0
psd1 "$C/Program Files/WindowsPowerShell/Modules" Az.Accounts 5.2.0
psd1 "$C/users/alice/Documents/PowerShell/Modules" Az.Accounts 5.3.0
psd1 "$C/corp/modules" Az 12.1.0
# live_scan NAME COMMAND...: runs the installed agent in the prefix; stdout to $WORK/NAME.json.
live() {
    local name=$1
    shift
    LIVE_CODE=0
    PSModulePath='C:\corp\modules' wine "$INSTALLED_EXE" "$@" > "$WORK/$name.json" 2> "$LOGS/$name.err" || LIVE_CODE=$?
}
live scan scan --format json
check "scan exits 0" test "$LIVE_CODE" -eq 0
has() { json_check "$WORK/scan.json" "any(i['product'] == '$1' and i['version'] == '$2' and i['path'].lower() == r'''$3'''.lower() $4 for i in d['installations'])"; }
check "scan: the host is Windows" json_check "$WORK/scan.json" "d['host']['os_family'] == 'windows'"
check "scan: azure-cli 2.77.0 from the MSI's Uninstall entry (registry)" \
    has azure-cli 2.77.0 'C:\Program Files\Microsoft SDKs\Azure\CLI2' "and i['source'] == 'windows-msi' and i['evidence'] == 'registry'"
check "scan: Az 14.3.0 for all users" has Az 14.3.0 'C:\Program Files\WindowsPowerShell\Modules\Az\14.3.0' "and i['scope'] == 'system'"
check "scan: Az.Accounts 5.2.0 for all users" has Az.Accounts 5.2.0 'C:\Program Files\WindowsPowerShell\Modules\Az.Accounts\5.2.0' ""
check "scan: Az.Accounts 5.3.0 in alice's Documents" \
    has Az.Accounts 5.3.0 'C:\users\alice\Documents\PowerShell\Modules\Az.Accounts\5.3.0' "and i['scope'] == 'user' and i.get('user') == 'alice'"
check "scan: Az 12.1.0 from PSModulePath" has Az 12.1.0 'C:\corp\modules\Az\12.1.0' ""
check "scan: the agent's own state and token caches are not read (no errors)" json_check "$WORK/scan.json" "d.get('errors', []) == []"
live check check --format json
check "check: compliant, exit 0" live_result 0 check "d['status'] == 'compliant'"
# An older 32-bit CLI in the other registry view makes the host noncompliant.
X86="$C/Program Files (x86)/Microsoft SDKs/Azure/CLI2"
mkdir -p "$X86/Lib/site-packages/azure/cli/core" "$X86/wbin"
printf '@echo off\r\n' > "$X86/wbin/az.cmd"
wine reg add "$UNINSTALL\\{AZVER-E2E-CLI-X86}" /v DisplayName /t REG_SZ /d "Microsoft Azure CLI" /f /reg:32 > /dev/null 2>&1
wine reg add "$UNINSTALL\\{AZVER-E2E-CLI-X86}" /v DisplayVersion /t REG_SZ /d 2.70.0 /f /reg:32 > /dev/null 2>&1
wine reg add "$UNINSTALL\\{AZVER-E2E-CLI-X86}" /v InstallLocation /t REG_SZ /d 'C:\Program Files (x86)\Microsoft SDKs\Azure\CLI2\' /f /reg:32 > /dev/null 2>&1
live check-old check --format json
check "check: a 32-bit CLI 2.70.0 (WOW6432Node) is below the baseline, exit 1" \
    live_result 1 check-old "d['status'] == 'noncompliant' and any(f['installed'] == '2.70.0' for f in d['findings'])"

# ---------------------------------------------------------------------------------------------
section "5. upgrade to $NEXT keeps host id, node key and settings; a downgrade is refused"
msiexec /i "$(winepath -w "$MSI2")" /qn
check "msiexec /i of $NEXT exits 0" test "$MSI_CODE" -eq 0
check "registry: Version $NEXT" test "$(reg_value "$AGENT_KEY" Version)" = "$NEXT"
check "registry: CollectorUrl kept" test "$(reg_value "$AGENT_KEY" CollectorUrl)" = "$ENROLLED_URL"
check "registry: Role kept" test "$(reg_value "$AGENT_KEY" Role)" = developer
check "registry: Labels kept" test "$(reg_value "$AGENT_KEY" Labels)" = team=ci
expect_installed "upgrade"
check "host id kept" test "$(tr -d '\r\n' < "$STATE/host-id")" = "$HOST_ID"
check "node key kept" test "$(file_sum "$STATE/node-key")" = "$KEY_SUM"
newer_report() {
    hosts_json enrolled > "$WORK/after-upgrade.json" || return 1
    json_check "$WORK/after-upgrade.json" "len(d) == 1 and d[0]['host_id'] == '$HOST_ID' and d[0]['last_seen'] > '$LAST_SEEN' and d[0]['labels'] == {'team': 'ci'}"
}
wait_for "a new report from the same host after the upgrade (node key accepted)" 60 newer_report
msiexec /i "$(winepath -w "$MSI1")" /qn
check "a downgrade to $BASE is refused (msiexec exit $MSI_CODE, 1603 mod 256 = 67)" test "$MSI_CODE" -ne 0
check "after the refused downgrade $NEXT is still installed" test "$(reg_value "$AGENT_KEY" Version)" = "$NEXT"
check "after the refused downgrade the service is RUNNING" running

# ---------------------------------------------------------------------------------------------
section "6. uninstall"
msiexec /x "$(winepath -w "$MSI2")" /qn
expect_uninstalled "final uninstall"
check "the node key is kept (documented: the state dir is the host's identity)" test "$(file_sum "$STATE/node-key")" = "$KEY_SUM"

finish
