#!/usr/bin/env bash
# A baseline change under flat-out ingest (docs/BENCHMARKS.md, "Mixed load at 1,000,000 hosts",
# baseline change): serves D/fleet.db with the default baseline, reports flat out for DURATION
# seconds (default 240), raises the azure-cli minimum SIGHUP_AFTER seconds in (default 30) and
# prints how long the re-evaluation took (the collector's own log line) and the load
# generator's JSON line (reports/s over the whole run, the collector's peak RSS).
#   COLLECTOR=target/release/azver-collector LOADGEN=target/release/azver-loadgen \
#   N=1000000 D=/tmp/ab-ingest/after scripts/bench-reevaluate.sh
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
COLLECTOR=${COLLECTOR:-target/release/azver-collector}
LOADGEN=${LOADGEN:-target/release/azver-loadgen}
N=${N:-1000000}
D=${D:?the directory of fleet.db}
DURATION=${DURATION:-240}
SIGHUP_AFTER=${SIGHUP_AFTER:-30}
cp "$(dirname "$0")/../core/baseline.default.toml" "$D/baseline.toml"
: > "$D/reeval-err.txt"
"$COLLECTOR" serve --listen 127.0.0.1:0 --db "$D/fleet.db" --baseline "$D/baseline.toml" \
  > "$D/reeval-out.txt" 2>> "$D/reeval-err.txt" &
PID=$!
GRPC=$(wait_address 'listening on' "$D/reeval-out.txt" "$PID" "$D/reeval-err.txt")
"$LOADGEN" --collector "http://$GRPC" --hosts "$N" --duration "$DURATION" --progress-every 10s \
  --collector-pid "$PID" --db "$D/fleet.db" > "$D/reeval-loadgen.txt" 2>&1 &
LG=$!
sleep "$SIGHUP_AFTER"
# A stricter azure-cli minimum than any run before: 2.76.0 -> 2.77.<the time>, always a change.
sed -i "0,/^minimum = \".*\"/s//minimum = \"2.77.$(date +%s)\"/" "$D/baseline.toml"
kill -HUP "$PID"
echo "SIGHUP at $(date -u +%T)"
wait "$LG" || true
grep -E 're-evaluated against the baseline|baseline' "$D/reeval-err.txt" | tail -n 3
tail -n 1 "$D/reeval-loadgen.txt"
kill "$PID"; wait "$PID" 2>/dev/null || true
