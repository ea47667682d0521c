#!/usr/bin/env bash
# The whole overhead benchmark in one command: scripts/bench.sh for HTTP and
# HTTPS, keep-alive and a new connection per request, at saturation and at a
# fixed rate (RATE, default 10000 req/s), then one table of all eight runs.
#   sudo scripts/bench-matrix.sh [rounds] [seconds]      (make bench)
# Each run interleaves rounds without and with the agent (bench.sh); its own
# table is in the log (LOG, default a temporary file that is removed).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; secs=${2:-8}; rate=${RATE:-10000}
summary=$(mktemp /tmp/zs-matrix.XXXXXX)
log=${LOG:-$summary.log}
trap 'rm -f "$summary"; [ -n "${LOG:-}" ] || rm -f "$log"' EXIT
: >"$log"
for scheme in http https; do
  for newconn in 0 1; do
    for load in saturation "$rate"; do
      what="$scheme, $([ "$newconn" = 1 ] && echo 'new connection per request' || echo keep-alive), $load"
      echo "bench-matrix: $what" | tee -a "$log" >&2
      r=; [ "$load" = saturation ] || r=$load
      SUMMARY=$summary SCHEME=$scheme NEWCONN=$newconn RATE=$r scripts/bench.sh "$rounds" "$secs" >>"$log" 2>&1 ||
        { echo "bench-matrix: $what failed (log: $log)" >&2; LOG=$log; exit 1; }
    done
  done
done
echo
echo "| scheme | connections | load | req/s without / with | ratio | p50 without / with (ms) | p99 without / with (ms) | nginx / wrk extra CPU per request | agent CPU per 1,000 req/s | agent RSS end / peak | drops, gaps, queue-full |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' '{
  load = ($3 == "saturation") ? "saturation" : "fixed " $3 " req/s"
  printf "| %s | %s | %s | %s / %s | %s | %s / %s | %s / %s (%+.0f %%) | %+.1f / %+.1f us | %s %% of a core | %s / %s MiB | %s, %s, %s |\n",
    $1, $2, load, $4, $5, $6, $7, $8, $9, $10, 100 * ($10 / $9 - 1), $11, $12, $13, $14, $15, $16, $17, $18
}' "$summary"
