#!/bin/sh
# /init of the test VM (busybox sh): loopback up, an HTTP server (busybox
# httpd) and an HTTPS one (openssl s_server), the agent, then plain and TLS
# requests; everything checks need is printed on the console between
# "ZSVM" markers, and the VM powers off. ZS_ARGS (from the kernel command
# line) adds agent flags.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /run /tmp
mount -t tmpfs tmp /run
mount -t tmpfs tmp /tmp
ip link set lo up
echo "ZSVM kernel $(uname -r)"
echo "ZSVM cmdline $(cat /proc/cmdline)"
# ZS_BENCH=rounds: what every process pays per call, without the agent and
# with it (its own send timing, then ZEROSPAN_SEND_TIME=syscalls), rounds
# alternated (scripts/bench-syscalls.c); emulated, so only ratios mean much.
if [ -n "$ZS_BENCH" ]; then
  r=0
  while [ $r -lt "$ZS_BENCH" ]; do
    echo "ZSVM bench no agent: $(/zs/bench-syscalls 200000)"
    for mode in auto syscalls; do
      ZEROSPAN_SEND_TIME=$mode /zs/zerospan --print=none --admin-addr=127.0.0.1:9464 \
        --stats-interval=0 2>/tmp/bench.err &
      a=$!
      i=0
      until wget -q -O /dev/null http://127.0.0.1:9464/readyz 2>/dev/null || [ $i -gt 300 ]; do
        sleep 1
        i=$((i + 1))
      done
      echo "ZSVM bench $mode: $(/zs/bench-syscalls 200000) ($(grep -o 'sends timed by [^:(]*' /tmp/bench.err))"
      kill -INT $a
      wait $a
    done
    r=$((r + 1))
  done
  poweroff -f
fi
mkdir -p /www && echo hello > /www/index.html && echo burst > /www/burst.html && echo poll > /www/poll.html
httpd -p 127.0.0.1:8080 -h /www
openssl s_server -accept 8443 -cert /zs/cert.pem -key /zs/key.pem -www -quiet >/dev/null 2>&1 &
# a client connection open before the agent starts, idle (httpd waits for
# its request): the agent's start-up enrolment takes it into injection
# (Linux 6.12+) or says this kernel cannot
sleep 900 | nc 127.0.0.1 8080 >/dev/null 2>&1 &
# shellcheck disable=SC2086
/zs/zerospan --print=json --admin-addr=127.0.0.1:9464 --stats-interval=0 $ZS_ARGS \
  >/tmp/spans.json 2>/tmp/agent.err &
agent=$!
ready=no
i=0
while [ $i -lt 600 ]; do
  if wget -q -O /dev/null http://127.0.0.1:9464/readyz 2>/dev/null; then ready=yes; break; fi
  kill -0 $agent 2>/dev/null || break
  sleep 1
  i=$((i + 1))
done
echo "ZSVM ready $ready after ${i} s"
if [ $ready = yes ]; then
  for n in 1 2 3 4 5; do wget -q -O /dev/null http://127.0.0.1:8080/index.html; done
  for n in 1 2 3; do curl -sk -o /dev/null https://127.0.0.1:8443/; done
  # curl waits for its response in poll(), on a socket the injector enrolled:
  # the data's arrival must wake it (kernels with 929e30f93125 can lose that
  # wakeup without a verdict program); -m 5 turns a lost one into a 000
  codes=
  for n in 1 2 3; do
    codes="$codes $(curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/poll.html)"
  done
  echo "ZSVM curl plain$codes"
  # then four clients at once, 25 requests each, to /burst (the burst's
  # threads preempt each other's BPF programs on a preemptible kernel)
  pids=
  for c in 1 2 3 4; do
    (for n in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do
      wget -q -O /dev/null http://127.0.0.1:8080/burst.html
    done) &
    pids="$pids $!"
  done
  # shellcheck disable=SC2086
  wait $pids
  sleep 3
  wget -q -O /tmp/metrics http://127.0.0.1:9464/metrics
  echo "ZSVM programs while running $(bpftool prog show | grep -c ' zs_')"
  kill -INT $agent
fi
wait $agent
echo "ZSVM agent exit $?"
# the kernel frees a detached program after an RCU grace period (uprobe
# programs after an RCU tasks-trace one, slow under PREEMPT_RT and emulation):
# up to 10 s, as the integration tests' wait_programs_gone
i=0
while [ $i -lt 50 ] && [ "$(bpftool prog show | grep -c ' zs_')" != 0 ]; do
  sleep 0.2
  i=$((i + 1))
done
echo "ZSVM programs after exit $(bpftool prog show | grep -c ' zs_')"
echo "ZSVM links after exit $(bpftool link show | grep -c ' zs_')"
echo "==== agent.err"
cat /tmp/agent.err
echo "==== spans"
cat /tmp/spans.json
echo "==== metrics"
cat /tmp/metrics 2>/dev/null | grep '^zerospan_'
# ZEROSPAN_RECORD=file on the kernel command line: the agent's ringbuf
# records, for a replay on the host (a debugging aid)
if [ -n "$ZEROSPAN_RECORD" ] && [ -s "$ZEROSPAN_RECORD" ]; then
  echo "==== record"
  base64 "$ZEROSPAN_RECORD"
fi
echo "==== end"
poweroff -f
