#!/usr/bin/env bash
# What every process on the host pays per call while an agent is loaded (the
# caller is in scope): getppid, a one-byte write to /dev/null, a TLS call the
# uprobes watch, and an HTTP exchange with both ends in one thread (what the
# kernel side costs a traced app per request, without scheduling noise), and
# a Redis PING exchange the same way (a protocol the agent lets go).
# Rounds alternate no agent, AGENT (default build/zerospan) and, if set,
# OLD_AGENT (another build, for A/B). Injection is forced on, as in bench.sh
# (INJECT=on for builds before 2026-12-03).
#   sudo scripts/bench-syscalls.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
agent=${AGENT:-build/zerospan}
[ -x "$agent" ] || make -s all
mkdir -p build
cc -O2 -Wall -o build/bench-syscalls scripts/bench-syscalls.c -ldl
admin=$((10000 + RANDOM % 20000)) # below the ephemeral range
with_agent() { # $1: agent binary
  local a=$1 pid
  "$a" --admin-addr=127.0.0.1:$admin --print=none --stats-interval=0 --inject="${INJECT:-force}" 2>/dev/null &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && break; sleep 0.1; done
  echo "$a: $(build/bench-syscalls)"
  kill "$pid"; wait "$pid" || true
}
for r in $(seq "$rounds"); do
  echo "no agent: $(build/bench-syscalls)"
  with_agent "$agent"
  [ -n "${OLD_AGENT:-}" ] && with_agent "$OLD_AGENT"
done
