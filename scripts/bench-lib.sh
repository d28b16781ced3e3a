# Sourced by the scripts/bench-*.sh benchmarks.

# wait_address PREFIX OUT PID LOG: prints the 127.0.0.1:PORT of the first line of OUT that starts
# with PREFIX (`listening on`, `http listening on`), once the collector PID has printed it; fails
# naming LOG if the collector exits first or has not printed it within 10 minutes (a migration).
wait_address() {
  local prefix=$1 out=$2 pid=$3 log=$4 address
  for _ in $(seq 1 3000); do
    address=$(grep -m1 "^$prefix" "$out" | grep -oE '127\.0\.0\.1:[0-9]+' || true)
    if [ -n "$address" ]; then
      echo "$address"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "the collector did not start; see $log" >&2
  return 1
}
