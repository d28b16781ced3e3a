#!/bin/bash
# Issue 17 read benchmark: a release collector on SQLite seeded with N hosts by the load generator,
# then the median of 5 requests per read, the collector's RSS, and 10 s of flat-out ingest.
# Usage: cargo build --release -p azver-collector -p azver-loadgen && scripts/bench-reads.sh [N]
set -u
N=${1:-100000}
BIN=${AZVER_BIN:-target/release}
DIR=${TMPDIR:-/tmp}/azver-bench-reads/n$N
rm -rf $DIR; mkdir -p $DIR
$BIN/azver-collector serve --listen 127.0.0.1:0 --http 127.0.0.1:0 --db $DIR/fleet.db > $DIR/out.txt 2> $DIR/err.txt &
PID=$!
sleep 2
GRPC=$(sed -n 's/^listening on //p' $DIR/out.txt); HTTP=$(sed -n 's/^http listening on //p' $DIR/out.txt)
echo "pid $PID grpc $GRPC http $HTTP"
START=$(date +%s.%N)
$BIN/azver-loadgen --collector http://$GRPC --hosts $N --duration 1 --register --max-reports 1 > $DIR/register.json 2>&1
END=$(date +%s.%N)
echo "register $N hosts: $(echo "$END - $START" | bc) s"
# let the start-up re-evaluation pass finish (it runs beside ingest)
sleep 3
rss() { grep -E 'VmRSS|VmHWM' /proc/$PID/status | tr -s ' ' | tr '\n' ' '; echo; }
echo "rss after seeding: $(rss)"
t() { for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "http://$HTTP$1"; done | sort -n | sed -n 3p; }
echo "metrics first scrape (s bytes): $(curl -s -o /dev/null -w '%{time_total} %{size_download}' http://$HTTP/metrics)"
echo "metrics (median of 5: s bytes): $(t /metrics)"
echo "dashboard / (one request: s bytes): $(curl -s -o /dev/null -w '%{time_total} %{size_download}' http://$HTTP/)"
echo "api hosts limit=50: $(t '/api/v1/hosts?limit=50')"
echo "api hosts status=noncompliant role=developer: $(t '/api/v1/hosts?limit=50&status=noncompliant&role=developer')"
echo "api hosts label+product: $(t '/api/v1/hosts?limit=50&label=team&product=Az')"
echo "api hosts q=host-9: $(t '/api/v1/hosts?limit=50&q=9999')"
ID=$(curl -s "http://$HTTP/api/v1/hosts?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["hosts"][0]["host_id"])')
echo "api host page: $(t /api/v1/hosts/$ID)"
echo "rss after reads: $(rss)"
$BIN/azver-loadgen --collector http://$GRPC --hosts $N --duration 10 --collector-pid $PID --db $DIR/fleet.db | tail -1
echo "rss after ingest: $(rss)"
kill $PID
