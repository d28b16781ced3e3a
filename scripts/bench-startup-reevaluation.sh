#!/usr/bin/env bash
# Memory during a re-evaluation under load (docs/BENCHMARKS.md, "The allocator"): serves
# D/fleet.db with a baseline no host has been evaluated against (so every host is re-evaluated
# at start), reports flat out for DURATION seconds (default 150), and prints the re-evaluation's
# log fields, reports/s, errors, and the collector's RSS at the end and its peak (MiB).
#   COLLECTOR=target/release/azver-collector LOADGEN=target/release/azver-loadgen \
#   N=1000000 D=/tmp/ab-ingest/fresh [BASELINE_FILE=FILE] scripts/bench-startup-reevaluation.sh
# DB: the database when it is not D/fleet.db (a postgres:// URL; D then only holds the logs).
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
COLLECTOR=${COLLECTOR:-target/release/azver-collector}
LOADGEN=${LOADGEN:-target/release/azver-loadgen}
N=${N:-1000000}
D=${D:?the directory of fleet.db}
DB=${DB:-$D/fleet.db}
DURATION=${DURATION:-150}
# A new azure-cli minimum each run: 2.78.<the time>; or BASELINE_FILE (one the fleet was not
# evaluated against), say one under which most hosts change status.
if [ -n "${BASELINE_FILE:-}" ]; then
  cp "$BASELINE_FILE" "$D/startup-baseline.toml"
else
  sed "0,/^minimum = \".*\"/s//minimum = \"2.78.$(date +%s)\"/" "$(dirname "$0")/../core/baseline.default.toml" \
    > "$D/startup-baseline.toml"
fi
"$COLLECTOR" serve --listen 127.0.0.1:0 --db "$DB" --baseline "$D/startup-baseline.toml" \
  > "$D/startup-out.txt" 2> "$D/startup-err.txt" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
GRPC=$(wait_address 'listening on' "$D/startup-out.txt" "$PID" "$D/startup-err.txt")
size=(--db "$DB")   # the load generator reads the size of a SQLite file at the end
case "$DB" in postgres*) size=() ;; esac
line=$("$LOADGEN" --collector "http://$GRPC" --hosts "$N" --duration "$DURATION" --collector-pid "$PID" \
  "${size[@]}" 2>/dev/null | tail -n 1)
echo "$(grep -o 'hosts=[0-9]* elapsed=[^ ]*' "$D/startup-err.txt" || echo 'not re-evaluated within the run')" \
  "$(echo "$line" | python3 -c 'import sys, json; d = json.loads(sys.stdin.read()); print(round(d["reports_per_sec"]), "reports/s,", d["errors"], "errors, RSS", round(d["collector_rss_mib"]), "MiB, peak", round(d["collector_peak_rss_mib"]), "MiB")')"
