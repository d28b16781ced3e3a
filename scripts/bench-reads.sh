#!/usr/bin/env bash
# One request at a time against a collector serving D/fleet.db (docs/BENCHMARKS.md, "Fleet
# reads (issue 17)"): the first dashboard after start (it counts the fleet), then each read
# REPEAT times (default 5), printing each read's times sorted (the middle one is the median) and
# its size, then (EXPORTS=1, the default) the CSV download and `report --format csv|json` with
# their time and peak RSS. No ingest runs meanwhile.
#   COLLECTOR=target/release/azver-collector D=/tmp/ab-ingest/after [BASELINE=FILE] scripts/bench-reads.sh
# DB: the database when it is not D/fleet.db (a postgres:// URL; D then only holds the logs).
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
COLLECTOR=${COLLECTOR:-target/release/azver-collector}
D=${D:?the directory of fleet.db}
DB=${DB:-$D/fleet.db}
REPEAT=${REPEAT:-5}
# BASELINE: the baseline the fleet was last evaluated against (else the collector re-evaluates
# every host on start, and the reads measure that).
"$COLLECTOR" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 --db "$DB" ${BASELINE:+--baseline "$BASELINE"} \
  > "$D/reads-out.txt" 2>> "$D/reads-err.txt" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
HTTP=$(wait_address 'http listening on' "$D/reads-out.txt" "$PID" "$D/reads-err.txt")
once() { curl -s -o /dev/null -w '%{time_total} %{size_download} %{http_code}' "http://$HTTP$1"; }
echo "first / (counts the fleet): $(once /)"
for path in / '/?page=2' '/?status=noncompliant&role=server' '/?status=compliant' '/?status=stale' '/?q=9999' \
  '/api/v1/summary?status=noncompliant' \
  '/api/v1/summary' '/api/v1/summary?role=developer' '/metrics' \
  '/api/v1/hosts?limit=50' '/api/v1/hosts?limit=50&status=noncompliant&role=developer' \
  '/api/v1/hosts?limit=50&status=compliant' '/api/v1/hosts?limit=50&status=not-applicable' \
  '/api/v1/hosts?limit=50&q=9999' '/api/v1/hosts?limit=50&label=team' '/api/v1/hosts?limit=50&product=Az' \
  '/api/v1/hosts?limit=50&label=team%3Dweb&status=compliant' '/api/v1/hosts?limit=50&label=team%3Dweb&status=noncompliant' \
  '/api/v1/hosts?limit=50&label=team%3Dweb&role=developer&status=compliant' \
  '/api/v1/hosts?limit=50&label=site&status=compliant' '/api/v1/hosts?limit=50&product=Az&status=compliant' \
  '/api/v1/hosts?limit=50&product=Az&status=stale' '/api/v1/hosts?limit=50&finding=below-baseline' \
  '/api/v1/hosts?limit=50&finding=human-identity&role=developer&status=noncompliant' \
  '/api/v1/hosts?limit=50&finding=user-password-sign-in'; do
  times=$(for _ in $(seq 1 "$REPEAT"); do once "$path"; echo; done | sort -n | awk '{printf "%s ", $1; size=$2; code=$3} END {printf "| %s B, HTTP %s", size, code}')
  echo "$path: $times"
done
grep -E 'VmRSS|VmHWM' "/proc/$PID/status" | tr -s ' \n' ' '; echo
if [ "${EXPORTS:-1}" = 1 ]; then
  began=$(date +%s.%N)
  bytes=$(curl -s "http://$HTTP/api/v1/report.csv" | wc -c)
  echo "/api/v1/report.csv: $(echo "$(date +%s.%N) - $began" | bc) s, $bytes B"
  for format in csv json; do
    echo "report --format $format: $(/usr/bin/time -f '%e s, max RSS %M KiB' "$COLLECTOR" report --db "$DB" \
      ${BASELINE:+--baseline "$BASELINE"} --format "$format" 2>&1 > /dev/null | tail -n 1)"
  done
fi
