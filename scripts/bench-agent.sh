#!/usr/bin/env bash
# The agent's own CPU per ringbuf record and per span, measured by replaying
# records captured from a real run (no kernel, no scheduler in the way; the
# handler, the span sink's steps and OTLP encoding, as in the agent).
#   sudo scripts/bench-agent.sh [record-file] [rounds]
# Without a file: records 4 s of wrk -> nginx paced at RATE (default 8000)
# req/s, keep-alive, traceparent injected, with the agent's defaults;
# KEEP=path keeps the recording there for later runs (A/B of two builds).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s all build/bench-agent
rec=${1:-}; rounds=${2:-5}
if [ -z "$rec" ]; then
  command -v wrk >/dev/null && command -v nginx >/dev/null || ./scripts/deps.sh test
  dir=$(mktemp -d /tmp/zs-bench-agent.XXXXXX); chmod 755 "$dir"
  port=$((20000 + RANDOM % 20000)); admin=$((port + 1))
  head -c 600 /dev/zero | tr '\0' x > "$dir/index.html"
  cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; keepalive_requests 1000000;
  client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
  uwsgi_temp_path $dir; scgi_temp_path $dir;
  server { listen 127.0.0.1:$port; root $dir; }
}
CONF
  nginx -c "$dir/nginx.conf" -g 'daemon off;' & ngx=$!
  agent=
  cleanup() {
    [ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
    kill "$ngx" 2>/dev/null; wait "$ngx" 2>/dev/null || true
  }
  trap 'cleanup; rm -rf "$dir"' EXIT
  ZEROSPAN_RECORD="$dir/records" build/zerospan --admin-addr="127.0.0.1:$admin" --print=none \
    --stats-interval=0 2>"$dir/agent.err" & agent=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && break; sleep 0.1; done
  rate=${RATE:-8000}
  echo 'function delay() return 5 end' > "$dir/pace.lua"
  wrk -t2 -c$(( (rate + 199) / 200 )) -d4s -s "$dir/pace.lua" "http://127.0.0.1:$port/index.html" |
    grep Requests/sec
  kill "$agent"; wait "$agent" || true; agent=
  rec=$dir/records
  [ -n "${KEEP:-}" ] && cp "$rec" "$KEEP"
fi
build/bench-agent "$rec" "$rounds"
