#!/usr/bin/env bash
# Overhead benchmark: wrk -> nginx on loopback, with and without the agent,
# interleaved rounds in one run, every request turned into an exported span
# (OTLP/HTTP to a local nginx sink that discards the body).
#   sudo scripts/bench.sh [rounds] [seconds] [connections]
# The agent runs with --inject=force: injection's cost is measured also on
# kernels where the default leaves it off (6.15+, this host's 6.18); INJECT=on
# for a build older than that flag (2026-12-03), which injects by default.
# AGENT=path runs another build (A/B runs). AGENT_ARGS adds agent flags (e.g.
# AGENT_ARGS=--inject=off); AGENT_PREFIX runs the agent
# under a command (e.g. AGENT_PREFIX="chrt --idle 0"). RECORD=file: the
# agent writes its ringbuf records there (ZEROSPAN_RECORD; each start of the
# agent begins the file anew, so it holds the last with-agent run).
# SCHEME=https: nginx serves TLS (self-signed, made here), wrk speaks HTTPS
# (OpenSSL: the agent's uprobes see the plaintext).
# RATE=N: a fixed-rate run instead of saturation: wrk paces each connection
# (5 ms between its requests, RATE/200 connections) and the table gives p50
# and p99 latency with and without the agent, and the agent's CPU per 1,000
# requests/s. PACE=random: each connection waits 0-10 ms (5 on average) instead
# of exactly 5, so the connections do not fire in step. NEWCONN=1: a new
# connection per request (Connection: close). HEADER="Name: value": one more
# request header (e.g. a large cookie).
# Prints a table of throughput, the with/without ratio, the CPU nginx and wrk
# spend per request with and without the agent (its kernel programs run in
# their context), agent CPU (over each run but its first and last second)
# and RSS. SUMMARY=file appends the run's figures to file as one
# tab-separated line (scripts/bench-matrix.sh makes its table of them).
# KSTATS=1: also what each of the agent's kernel programs costs per request
# (runs, ns per run: the kernel's bpf_stats over the with-agent runs' steady
# middle); the account itself slows every run a little.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; secs=${2:-8}; conns=${3:-50}; scheme=${SCHEME:-http}; rate=${RATE:-}
[ "$secs" -ge 4 ] || { echo "bench.sh: rounds of at least 4 seconds" >&2; exit 2; }
agent=${AGENT:-build/zerospan}
[ -x "$agent" ] || make -s all
command -v wrk >/dev/null && command -v nginx >/dev/null || ./scripts/deps.sh test

dir=$(mktemp -d /tmp/zs-bench.XXXXXX); chmod 755 "$dir"
. scripts/bench-nginx.sh
port=$(bench_port); sink=$((port + 1)); admin=$((port + 2))
tls=; [ "$scheme" = https ] && tls=$(bench_tls "$dir")
bench_nginx_conf "$dir" "$port" "$sink" "$tls"
nginx -c "$dir/nginx.conf" -g 'daemon off;' & ngx=$!
nginx -c "$dir/sink.conf" -g 'daemon off;' & ngx_sink=$!
agent_pid=
. scripts/bench-kstats.sh
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  kill "$ngx" "$ngx_sink" 2>/dev/null; wait "$ngx" "$ngx_sink" 2>/dev/null; rm -rf "$dir"
  kstats_off
}
trap cleanup EXIT
sleep 0.5

# two wrk threads; one for a single connection (ping-pong: the agent's effect on each request's latency)
wrk_args=(-t"$([ "$conns" -ge 2 ] && echo 2 || echo 1)" --latency)
if [ -n "$rate" ]; then
  conns=$(( (rate + 199) / 200 ))
  if [ "${PACE:-fixed}" = random ]; then
    echo 'function delay() return math.random(0, 10) end' > "$dir/pace.lua"
  else
    echo 'function delay() return 5 end' > "$dir/pace.lua"
  fi
  wrk_args+=(-s "$dir/pace.lua")
fi
[ "${NEWCONN:-0}" = 1 ] && wrk_args+=(-H "Connection: close")
[ -n "${HEADER:-}" ] && wrk_args+=(-H "$HEADER")
# One wrk run: prints "req/s p50_ms p99_ms wrk_cpu_s" (wrk's user + system time, from
# the shell's `times` for its children).
rps() {
  { wrk "${wrk_args[@]}" -c"$conns" -d"${secs}s" "$scheme://127.0.0.1:$port/index.html"; times; } | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    function sec(v) { split(v, a, "m"); return a[1] * 60 + a[2] }
    /Requests\/sec/ {r = $2} $1 == "50%" {p50 = ms($2)} $1 == "99%" {p99 = ms($2)}
    /^[0-9]+m[0-9.]+s [0-9]+m[0-9.]+s$/ {cpu = sec($1) + sec($2)}
    END {print r, p50, p99, cpu}'
}
# CPU time of all of a process's threads, in microseconds: the scheduler's own
# account (schedstat), not utime + stime sampled at 100 Hz ticks
cpu_ticks() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s / 1000}'; }
metric() { curl -s "http://127.0.0.1:$admin/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

start_agent() {
  # the agent's defaults (queue 2048, batches of 512), as users run it; OTEL_BSP_* from
  # the caller's environment change them
  OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink" ZEROSPAN_RECORD="${RECORD:-}" ${AGENT_PREFIX:-} "$agent" --admin-addr="127.0.0.1:$admin" --print=none --stats-interval=0 --inject="${INJECT:-force}" ${AGENT_ARGS:-} 2>"$dir/agent.err" &
  agent_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && return; sleep 0.1; done
  echo "agent did not start"; cat "$dir/agent.err"; exit 1
}

kstats=${KSTATS:-0}
[ "$kstats" = 1 ] && kstats_on
: >"$dir/kstats"; kreq=0
rps "$port" >/dev/null  # warm-up
worker=$(pgrep -P "$ngx" | head -1)
start_agent
hz=1000000 # cpu_ticks' unit per second
declare -a base with b50 b99 w50 w99 bsrv wsrv bcli wcli
cpu_total=0; req_total=0
# CPU the traced apps spend per request (the kernel programs run in their
# context): nginx's worker from its ticks, wrk from `times`, in microseconds.
per_req_us() { awk -v c="$1" -v r="$2" -v s="$secs" 'BEGIN {print (r > 0) ? 1e6 * c / (r * s) : 0}'; }
for r in $(seq "$rounds"); do
  kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=
  n0=$(cpu_ticks "$worker")
  read -r b p50 p99 wcpu <<<"$(rps)"; base+=("$b"); b50+=("$p50"); b99+=("$p99")
  n1=$(cpu_ticks "$worker")
  bsrv+=("$(per_req_us "$(awk -v t=$((n1 - n0)) -v hz="$hz" 'BEGIN {print t / hz}')" "$b")")
  bcli+=("$(per_req_us "$wcpu" "$b")")
  start_agent
  n0=$(cpu_ticks "$worker")
  # The agent's CPU is taken over the steady middle of the run (its first and
  # last second left out): what it spends per request, not what a new wrk
  # process costs it once (its TLS library is looked up and probed).
  rps >"$dir/rps.out" & rps_pid=$!
  sleep 1; t0=$(cpu_ticks "$agent_pid")
  [ "$kstats" = 1 ] && kstats_snap "$agent_pid" >"$dir/k0"
  sleep "$((secs - 2))"; t1=$(cpu_ticks "$agent_pid")
  [ "$kstats" = 1 ] && kstats_snap "$agent_pid" >"$dir/k1"
  wait "$rps_pid"
  read -r w p50 p99 wcpu <"$dir/rps.out"; with+=("$w"); w50+=("$p50"); w99+=("$p99")
  # the programs' runs over the same seconds as the agent's CPU; the requests
  # in them taken at the run's rate
  if [ "$kstats" = 1 ]; then
    kstats_delta "$r" "$dir/k0" "$dir/k1" >>"$dir/kstats"
    kreq=$(awk -v a="$kreq" -v w="$w" -v s="$((secs - 2))" 'BEGIN {printf "%.0f", a + w * s}')
  fi
  n1=$(cpu_ticks "$worker")
  wsrv+=("$(per_req_us "$(awk -v t=$((n1 - n0)) -v hz="$hz" 'BEGIN {print t / hz}')" "$w")")
  wcli+=("$(per_req_us "$wcpu" "$w")")
  cpu_total=$((cpu_total + t1 - t0))
  req_total=$(awk -v a="$req_total" -v w="$w" -v s="$((secs - 2))" 'BEGIN {print a + w * s}')
  printf 'round %d: without %s req/s (p99 %s ms), with %s req/s (p99 %s ms), ratio %.3f\n' "$r" "$b" \
    "${b99[-1]}" "$w" "${w99[-1]}" "$(awk -v a="$w" -v b="$b" 'BEGIN {print a / b}')"
done
sleep 1
rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent_pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$agent_pid/status")
spans=$(metric zerospan_spans_created_total); exported=$(metric zerospan_spans_exported_total)
drops=$(curl -s "http://127.0.0.1:$admin/metrics" | awk '/^zerospan_kernel_drops_total/ {s += $2} END {print s + 0}')
qdrop=$(metric zerospan_spans_dropped_queue_full_total); gaps=$(metric zerospan_stream_gaps_total)
injected=$(curl -s "http://127.0.0.1:$admin/metrics" | awk '/^zerospan_inject_total\{result="injected"/ {print $NF}')

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
mb=$(median "${base[@]}"); mw=$(median "${with[@]}")
calc() { awk "BEGIN {print $1}"; }
ratio=$(calc "$mw / $mb")
p50b=$(median "${b50[@]}"); p50w=$(median "${w50[@]}"); p99b=$(median "${b99[@]}"); p99w=$(median "${w99[@]}")
srvb=$(median "${bsrv[@]}"); srvw=$(median "${wsrv[@]}"); clib=$(median "${bcli[@]}"); cliw=$(median "${wcli[@]}")
share=$(calc "100 * $cpu_total / $hz / ($rounds * ($secs - 2))")
per1k=$(calc "100 * ($cpu_total / $hz) / ($req_total / 1000)")
rss_mb=$(calc "$rss / 1024"); hwm_mb=$(calc "$hwm / 1024")
conn_kind=keep-alive; [ "${NEWCONN:-0}" = 1 ] && conn_kind=new
echo
echo "| metric ($scheme${rate:+, fixed rate $rate req/s}$([ "$conn_kind" = new ] && echo ", new connection per request")) | value |"
echo "|---|---|"
printf '| throughput without agent (median of %d) | %.0f req/s |\n' "$rounds" "$mb"
printf '| throughput with agent (median of %d) | %.0f req/s |\n' "$rounds" "$mw"
printf '| ratio with/without | %.3f |\n' "$ratio"
printf '| latency p50 without / with (median) | %.3f / %.3f ms |\n' "$p50b" "$p50w"
printf '| latency p99 without / with (median) | %.3f / %.3f ms (%+.1f %%) |\n' "$p99b" "$p99w" "$(calc "100 * ($p99w / $p99b - 1)")"
printf '| nginx worker CPU per request without / with (median) | %.1f / %.1f us (%+.1f us) |\n' "$srvb" "$srvw" "$(calc "$srvw - $srvb")"
printf '| wrk CPU per request without / with (median) | %.1f / %.1f us (%+.1f us) |\n' "$clib" "$cliw" "$(calc "$cliw - $clib")"
printf '| agent CPU (share of one core) under load, steady part | %.1f %% |\n' "$share"
printf '| agent CPU per 1,000 req/s, steady part | %.2f %% of a core |\n' "$per1k"
printf '| agent RSS at end / peak | %.1f / %.1f MiB |\n' "$rss_mb" "$hwm_mb"
printf '| spans created / exported (whole run) | %s / %s |\n' "$spans" "$exported"
printf '| kernel drops / stream gaps / queue-full drops | %s / %s / %s |\n' "$drops" "$gaps" "$qdrop"
printf '| traceparent injected into wrk requests (whole run) | %s |\n' "${injected:-0 (injection off)}"
if [ "$kstats" = 1 ]; then
  # lines "round name ns runs", one per program and with-agent run
  echo
  echo "| kernel program (bpf_stats, with-agent runs) | runs per request | ns per run | ns per request |"
  echo "|---|---|---|---|"
  awk -v req="$kreq" '{t[$2] += $3; c[$2] += $4}
    END {for (p in t) printf "%s %.2f %.0f %.0f\n", p, c[p] / req, t[p] / c[p], t[p] / req}' "$dir/kstats" |
    sort -k4,4 -n -r | awk '{all += $4; printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}
      END {printf "| all | | | %d |\n", all}'
fi
if [ -n "${SUMMARY:-}" ]; then
  # scheme conn load base with ratio p50 p50 p99 p99 (without, with) nginx+us wrk+us agent%/1k rss peak drops gaps qfull
  printf '%s\t%s\t%s\t%.0f\t%.0f\t%.3f\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.2f\t%.1f\t%.1f\t%s\t%s\t%s\n' \
    "$scheme" "$conn_kind" "${rate:-saturation}" "$mb" "$mw" "$ratio" \
    "$p50b" "$p50w" "$p99b" "$p99w" "$(calc "$srvw - $srvb")" "$(calc "$cliw - $clib")" "$per1k" \
    "$rss_mb" "$hwm_mb" "$drops" "$gaps" "$qdrop" >>"$SUMMARY"
fi
