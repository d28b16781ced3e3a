# Shared by packaging/windows-e2e.sh and packaging/systemd-e2e.sh (sourced, not run): counting
# checks and printing `NAME: N passed, N failed, N skipped` last. Set E2E_NAME before sourcing.
# A skipped check is counted apart and never as passed.
START=$(date +%s)
PASSED=0
FAILED=0
SKIPPED=0

ok() { PASSED=$((PASSED + 1)); printf '  ok: %s\n' "$*"; }
bad() { FAILED=$((FAILED + 1)); printf '  FAILED: %s\n' "$*"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf '  SKIPPED: %s: %s\n' "$E2E_NAME" "$*"; }
section() { printf '== %s (%ss)\n' "$*" "$(($(date +%s) - START))"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
# The summary line; returns non-zero when anything failed.
finish() {
    section "done"
    echo "$E2E_NAME: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    [ "$FAILED" -eq 0 ]
}
# A step that cannot go on: count it, then stop with the summary.
abort() { bad "$*"; finish; exit 1; }
# wait_for WHAT SECONDS COMMAND...: polls until the command succeeds (a pass), or fails WHAT.
wait_for() {
    local what=$1 seconds=$2 deadline
    shift 2
    deadline=$(($(date +%s) + seconds))
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || { bad "$what (waited ${seconds}s)"; return 1; }
        sleep 0.5
    done
    ok "$what"
}
# json_check FILE EXPRESSION: a Python expression over the document `d` is true.
json_check() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1], encoding="utf-8-sig")); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}
