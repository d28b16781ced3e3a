#!/usr/bin/env bash
# Ingest with mixed reads, two collector builds alternately on one database (docs/BENCHMARKS.md,
# "Mixed load at 1,000,000 hosts", A/B of the read connections).
#   BEFORE=path/to/old/azver-collector AFTER=target/release/azver-collector \
#   LOADGEN=target/release/azver-loadgen N=1000000 D=/tmp/ab/db1m scripts/bench-mixed-ab.sh
# Registers N hosts once (with AFTER) if D/fleet.db does not exist, then runs three rounds of
# 30 s flat out with the API's filtered pages (one of them a status no host has), API host reads,
# host pages (2 reads/s, 4 at once) and a scrape every 15 s, printing one JSON line per run.
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
: "${BEFORE:?the old collector binary}" "${AFTER:?the new collector binary}"
LOADGEN=${LOADGEN:-target/release/azver-loadgen}
N=${N:-200000}
D=${D:-/tmp/ab/db}
mkdir -p "$D"
PID=; GRPC=; HTTP=
start() {
  "$1" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 --db "$D/fleet.db" > "$D/out.txt" 2>> "$D/err.txt" &
  PID=$!
  GRPC=$(wait_address 'listening on' "$D/out.txt" "$PID" "$D/err.txt")
  HTTP=$(wait_address 'http listening on' "$D/out.txt" "$PID" "$D/err.txt")
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
if [ ! -e "$D/fleet.db" ]; then
  start "$AFTER"
  "$LOADGEN" --collector "http://$GRPC" --hosts "$N" --register --duration 1 --max-reports 1 --concurrency 128 | tail -n 1
  stop
fi
for round in 1 2 3; do
  for which in before after; do
    bin=$BEFORE; [ "$which" = after ] && bin=$AFTER
    start "$bin"
    line=$("$LOADGEN" --collector "http://$GRPC" --hosts "$N" --duration 30 --http "$HTTP" \
      --reads api_hosts_filtered,api_host,host_page --browse-rate 2 --scrape-every 15s --read-timeout 60s \
      --collector-pid "$PID" | tail -n 1)
    echo "$round $which $line"
    stop
  done
done
