# shellcheck shell=bash
# Sourced by the benchmark scripts (bench.sh, bench-pair.sh): what an agent's
# kernel programs cost, from the kernel's own account of them
# (kernel.bpf_stats_enabled=1: run_time_ns and run_cnt in the fdinfo of the
# agent's program fds). The account adds a clock read or two to every
# program run: compare figures taken with it on with each other only.
#   kstats_on                  turns the account on; kstats_off puts back what was (EXIT trap)
#   kstats_snap PID            prints "id run_time_ns run_cnt" of each program PID holds
#   kstats_delta LABEL F0 F1   prints "LABEL name ns runs" for each program that ran
#                              between snapshots F0 and F1
kstats_was=
kstats_on() {
  kstats_was=$(sysctl -n kernel.bpf_stats_enabled)
  sysctl -qw kernel.bpf_stats_enabled=1
}
kstats_off() {
  if [ -n "$kstats_was" ]; then sysctl -qw kernel.bpf_stats_enabled="$kstats_was"; fi
  kstats_was=
}
kstats_snap() {
  # All the fds in one read, so that the snapshot takes an instant (each
  # fd's info starts with its "pos:" line). A program's own fds carry its
  # account; a link's fd names the program without it, and one program may
  # have several fds: one line per program.
  cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '
    function flush() { if (i && s && rc >= c[i]) { t[i] = rt; c[i] = rc } i = s = 0 }
    /^pos:/ {flush()} /^prog_id:/ {i = $2} /^run_time_ns:/ {rt = $2; s = 1} /^run_cnt:/ {rc = $2}
    END {flush(); for (p in t) print p, t[p], c[p]}' | sort
}
kstats_delta() {
  join <(sort "$2") <(sort "$3") | while read -r id t0 c0 t1 c1; do
    [ "$c1" -gt "$c0" ] || continue
    echo "$1 $(bpftool prog show id "$id" -j | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])') $((t1 - t0)) $((c1 - c0))"
  done
}
