#!/usr/bin/env bash
# Two agent builds side by side on the same traffic: the CPU each spends per
# request, taken over the same seconds, so that what the machine does to one
# it does to the other (bench.sh's agent column, one build at a time, scatters
# by +-15 % on a noisy VM).
#   sudo scripts/bench-pair.sh AGENT_A AGENT_B [rounds] [seconds]
# Paced wrk -> nginx (RATE req/s, default 8000; keep-alive), spans exported
# to a local sink. Both agents run with --inject=off (two injectors would
# both insert a traceparent); everything else at their defaults. Half of the
# rounds start A first, half B first (the order shifts each agent's share by a
# few per cent). CPU: the agents' threads' run time from /proc schedstat.
# Prints each round and the median ratio B/A. The slots are not quite even
# (one build in both read B/A 0.96-0.97 on the CI VM): run A B, then B A.
# NEWCONN=1: a new connection per request (Connection: close), where what the
# agent does per connection shows. SCHEME=https: nginx serves TLS and wrk
# speaks it (the agents' uprobes in OpenSSL).
# KSTATS=1: also each build's kernel programs, ns per run over the same
# seconds (bpf_stats, from the agents' program fds): on this VM one build's
# programs alone move by +-20 % between runs, side by side they do not. The
# program that runs second on an event finds its data in cache: alternate.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 AGENT_A AGENT_B [rounds] [seconds]" >&2; exit 2; }
A=$(realpath "$1"); B=$(realpath "$2"); rounds=${3:-4}; secs=${4:-12}; rate=${RATE:-8000}
[ "$secs" -ge 4 ] || { echo "bench-pair.sh: rounds of at least 4 seconds" >&2; exit 2; }
command -v wrk >/dev/null && command -v nginx >/dev/null || ./scripts/deps.sh test

dir=$(mktemp -d /tmp/zs-pair.XXXXXX); chmod 755 "$dir"
. scripts/bench-nginx.sh
port=$(bench_port); sink=$((port + 1)); scheme=${SCHEME:-http}
tls=; [ "$scheme" = https ] && tls=$(bench_tls "$dir")
bench_nginx_conf "$dir" "$port" "$sink" "$tls"
nginx -c "$dir/nginx.conf" -g 'daemon off;' & ngx=$!
nginx -c "$dir/sink.conf" -g 'daemon off;' & ngx_sink=$!
pa=; pb=
stop_agents() {
  [ -n "$pa" ] && kill "$pa" 2>/dev/null && wait "$pa" 2>/dev/null
  [ -n "$pb" ] && kill "$pb" 2>/dev/null && wait "$pb" 2>/dev/null
  pa=; pb=
}
. scripts/bench-kstats.sh
trap 'stop_agents; kill $ngx $ngx_sink 2>/dev/null; wait $ngx $ngx_sink 2>/dev/null; rm -rf "$dir"; kstats_off' EXIT

start() { # VAR build admin-port log: starts the agent (a child of this shell), its pid in VAR
  OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink" "$2" --admin-addr="127.0.0.1:$3" \
    --print=none --stats-interval=0 --inject=off >/dev/null 2>"$4" &
  printf -v "$1" %s "$!"
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$3/readyz" >/dev/null && return; sleep 0.1; done
  echo "agent $2 did not start"; cat "$4"; exit 1
}
# run time of all of a process's threads, in ns
runtime() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }
kstats=${KSTATS:-0}
[ "$kstats" = 1 ] && kstats_on
: >"$dir/kstats"

conns=$(( (rate + 199) / 200 ))
echo 'function delay() return 5 end' > "$dir/pace.lua"
wrk_hdr=(); [ "${NEWCONN:-0}" = 1 ] && wrk_hdr=(-H "Connection: close")
ratios=()
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then
    start pa "$A" $((port + 2)) "$dir/a.err"; start pb "$B" $((port + 3)) "$dir/b.err"
  else
    start pb "$B" $((port + 3)) "$dir/b.err"; start pa "$A" $((port + 2)) "$dir/a.err"
  fi
  # warm-up: both agents find wrk's and nginx's connections and libraries
  wrk -t2 -c"$conns" -d2s -s "$dir/pace.lua" "${wrk_hdr[@]}" "$scheme://127.0.0.1:$port/index.html" >/dev/null
  wrk -t2 -c"$conns" -d"${secs}s" -s "$dir/pace.lua" "${wrk_hdr[@]}" "$scheme://127.0.0.1:$port/index.html" \
    >"$dir/wrk.out" & w=$!
  sleep 1; a0=$(runtime "$pa"); b0=$(runtime "$pb")
  [ "$kstats" = 1 ] && { kstats_snap "$pa" >"$dir/pa0"; kstats_snap "$pb" >"$dir/pb0"; }
  sleep $((secs - 2)); a1=$(runtime "$pa"); b1=$(runtime "$pb")
  [ "$kstats" = 1 ] && { kstats_snap "$pa" >"$dir/pa1"; kstats_snap "$pb" >"$dir/pb1"
    { kstats_delta A "$dir/pa0" "$dir/pa1"; kstats_delta B "$dir/pb0" "$dir/pb1"; } >>"$dir/kstats"; }
  wait "$w"
  rps=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.out")
  line=$(awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v r="$rps" -v s=$((secs - 2)) -v first="$([ $((r % 2)) = 1 ] && echo A || echo B)" \
    'BEGIN {printf "%.0f req/s, %s started first: A %.3f, B %.3f %% of a core per 1,000 req/s, B/A %.3f",
            r, first, a / 1e7 / s / r * 1000, b / 1e7 / s / r * 1000, b / a}')
  echo "round $r: $line"
  ratios+=("${line##* }")
  stop_agents
done
printf '%s\n' "${ratios[@]}" | sort -n |
  awk '{a[NR] = $1} END {printf "median B/A over %d rounds: %.3f\n", NR, (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
if [ "$kstats" = 1 ]; then
  awk '{t[$2, $1] += $3; c[$2, $1] += $4; n[$2] = 1}
    END {printf "%-18s %12s %12s %7s\n", "kernel program", "A ns/run", "B ns/run", "B/A"
         for (p in n) if (c[p, "A"] && c[p, "B"])
           printf "%-18s %12.0f %12.0f %7.3f\n", p, t[p, "A"] / c[p, "A"], t[p, "B"] / c[p, "B"],
                  (t[p, "B"] / c[p, "B"]) / (t[p, "A"] / c[p, "A"])}' "$dir/kstats"
fi
