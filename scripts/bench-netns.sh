#!/usr/bin/env bash
# The agent's start-up read of the listening sockets that exist before it, on
# a host with many network namespaces (pods): N namespaces, each with one
# process listening on 0.0.0.0:8080, then the agent started ROUNDS times; each
# start logs how many listeners it found and how long the read took.
#   sudo scripts/bench-netns.sh [N] [rounds]
# AGENT=path runs another build (builds before 2026-12-03 (late night) read
# only their own namespace and log nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}; rounds=${2:-3}
agent=${AGENT:-build/zerospan}
[ -x "$agent" ] || make -s all
tag=zsb$$
pids=()
cleanup() {
  [ ${#pids[@]} -gt 0 ] && { kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; } || true
  for i in $(seq "$n"); do ip netns del "$tag-$i" 2>/dev/null || true; done
}
trap cleanup EXIT
for i in $(seq "$n"); do
  ip netns add "$tag-$i"
  ip -n "$tag-$i" link set lo up
  ip netns exec "$tag-$i" /usr/bin/python3 -c '
import socket, time
s = socket.socket(); s.bind(("0.0.0.0", 8080)); s.listen(); time.sleep(1e6)' &
  pids+=($!)
done
sleep 2
for r in $(seq "$rounds"); do
  timeout -s INT 4 "$agent" --print=none --stats-interval=0 2>&1 | grep 'listening sockets' || true
done
