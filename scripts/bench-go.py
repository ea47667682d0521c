#!/usr/bin/python3
"""What following a Go program's calls by goroutine costs it: wrk -> a Go
front (net/http server whose handler calls nginx with http.Get, the default
pool) -> nginx, keep-alive. Rounds alternate: no agent, then each agent given
(default: this build), and print the front's throughput and its CPU per
request (utime + stime from /proc, in us), so that the uprobes' traps inside
the Go program show beside the run without them.
  sudo /usr/bin/python3 scripts/bench-go.py [--rounds=4] [--seconds=8]
       [--connections=8] [AGENT ...]
The agents run with --print=none and no OTLP endpoint (the spans are built,
not sent) at their defaults otherwise (pass another build to compare, say one
without the net/http probes). Uses the integration tests' harness."""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import harness  # noqa: E402
from harness import AGENT, Agent, Nginx, Proc, free_port  # noqa: E402
from links import go_front  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """utime + stime of process pid, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wrk(port, seconds, conns):
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "http://127.0.0.1:%d/" % port],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("agents", nargs="*")
    a = ap.parse_args()
    agents = a.agents or [AGENT]
    back_p, front_p = free_port(), free_port()
    back = Nginx(back_p)
    front = Proc([go_front(), str(front_p), "http://127.0.0.1:%d" % back_p], wait_port=front_p)
    labels = ["none"] + agents
    rps = {k: [] for k in labels}
    us = {k: [] for k in labels}
    try:
        wrk(front_p, 2, a.connections)  # warm-up
        for r in range(a.rounds):
            for k in labels:
                agent = None
                if k != "none":
                    harness.AGENT = k
                    agent = Agent(None, ports=[front_p, back_p], args=["--print=none"])
                    wrk(front_p, 1, a.connections)  # the process attached and marked
                try:
                    c0 = cpu_s(front.p.pid)
                    x = wrk(front_p, a.seconds, a.connections)
                    c1 = cpu_s(front.p.pid)
                finally:
                    if agent:
                        agent.stop()
                rps[k].append(x)
                us[k].append((c1 - c0) / (x * a.seconds) * 1e6)
                print("round %d %-40s %8.0f req/s, front %.1f us CPU a request" % (r + 1, k, x, us[k][-1]),
                      flush=True)
    finally:
        front.stop()
        back.stop()
    base = statistics.median(rps["none"])
    print("\nmedians over %d rounds (wrk -t2 -c%d, %d s):" % (a.rounds, a.connections, a.seconds))
    for k in labels:
        print("  %-40s %8.0f req/s (%.3fx), front %.1f us CPU a request" % (
            k, statistics.median(rps[k]), statistics.median(rps[k]) / base, statistics.median(us[k])))


if __name__ == "__main__":
    main()
