#!/usr/bin/env bash
# Flat-out ingest, two collector builds alternately, each on its own copy of one fleet
# (docs/BENCHMARKS.md, "Ingest at 1,000,000 hosts: indexes by the hour"). The builds may have
# different schemas: AFTER migrates its copy once, and that migration is timed.
#   BEFORE=path/to/old/azver-collector AFTER=target/release/azver-collector \
#   LOADGEN=target/release/azver-loadgen N=1000000 D=/tmp/ab-ingest scripts/bench-ingest-ab.sh
# Registers N hosts with BEFORE into D/before/fleet.db if it does not exist and copies it to
# D/after/, then runs ROUNDS rounds (default 3) of SECONDS seconds (default 60) flat out, no
# reads, printing one JSON line per run (the load generator's).
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
: "${BEFORE:?the old collector binary}" "${AFTER:?the new collector binary}"
LOADGEN=${LOADGEN:-target/release/azver-loadgen}
N=${N:-200000}
D=${D:-/tmp/ab-ingest}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${RUN_SECONDS:-60}
mkdir -p "$D/before" "$D/after"
PID=; GRPC=
start() { # binary, directory
  "$1" serve --listen 127.0.0.1:0 --db "$2/fleet.db" > "$2/out.txt" 2>> "$2/err.txt" &
  PID=$!
  GRPC=$(wait_address 'listening on' "$2/out.txt" "$PID" "$2/err.txt")
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
if [ ! -e "$D/before/fleet.db" ]; then
  start "$BEFORE" "$D/before"
  "$LOADGEN" --collector "http://$GRPC" --hosts "$N" --register --duration 1 --max-reports 1 --concurrency 128 | tail -n 1
  stop
  rm -f "$D/after/fleet.db"*
fi
if [ ! -e "$D/after/fleet.db" ]; then
  cp "$D/before/fleet.db" "$D/after/fleet.db"
  began=$(date +%s.%N)
  start "$AFTER" "$D/after"
  echo "migrate+start of AFTER: $(echo "$(date +%s.%N) - $began" | bc) s"
  stop
fi
for round in $(seq 1 "$ROUNDS"); do
  for which in before after; do
    bin=$BEFORE; [ "$which" = after ] && bin=$AFTER
    start "$bin" "$D/$which"
    line=$("$LOADGEN" --collector "http://$GRPC" --hosts "$N" --duration "$SECONDS_PER_RUN" \
      --collector-pid "$PID" --db "$D/$which/fleet.db" | tail -n 1)
    echo "$round $which $line"
    stop
  done
done
