#!/usr/bin/env bash
# The agent's own CPU per ringbuf record and per span, measured by replaying
# records captured from a real run (no kernel, no scheduler in the way; the
# handler, the span sink's steps and OTLP encoding, as in the agent).
#   sudo scripts/bench-agent.sh [record-file] [rounds]
# Without a file: records one 4 s round of bench.sh's wrk -> nginx run paced
# at RATE (default 8000) req/s, keep-alive, traceparent injected, with the
# agent's defaults; KEEP=path keeps the recording there for later runs (A/B
# of two builds).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s all build/bench-agent
rec=${1:-}; rounds=${2:-5}
if [ -z "$rec" ]; then
  rec=$(mktemp /tmp/zs-bench-agent.XXXXXX)
  trap 'rm -f "$rec"' EXIT
  RECORD=$rec RATE=${RATE:-8000} scripts/bench.sh 1 4 | grep -E '^round'
  [ -n "${KEEP:-}" ] && cp "$rec" "$KEEP"
fi
build/bench-agent "$rec" "$rounds"
