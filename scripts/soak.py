"""A long run of mixed traffic under one agent: does its memory stay flat,
does it lose nothing, and does every request through a three-service chain
end as one whole trace, minute after minute?
  sudo /usr/bin/python3 scripts/soak.py [MINUTES] [AGENT_ARG ...]
(default 10 minutes; AGENT_ARGS e.g. --inject=force; without one, the
agent's default --inject=on, which on a kernel that fails its sockmap
self-test leaves injection off and links same-host calls by connection.)

On loopback, all started here and stopped by PID:
  chain    wrk (2 connections, 20 ms apart: ~100 req/s) -> front -> mid ->
           leaf (tests/integration/servers/chain_server.py, thread mode; each
           hop opens a new connection): 6 spans a request
  static   wrk (10 keep-alive connections, 20 ms apart: ~500 req/s) -> nginx
  churn    a new curl process every 100 ms, HTTP and HTTPS (nginx over TLS)
           in turn: short-lived processes and connections
  idle     190 connections held open without a byte, 20 sending a request
           line and then a header byte every 5 s (slowloris), 10 rude ones
           (garbage first bytes; a request line sent again and again, nginx's
           400 read a byte every 5 s, also after the reset), reopened as
           nginx closes them
Spans go to an OTLP/HTTP receiver in this process (the official protos, as
the tests decode them), checked as they come: each chain trace once its
spans stopped arriving for 10 s. Every 30 s a line: the agent's RSS, spans
received, chain traces whole and broken, what /metrics counts as lost.
Exit status 1 if a chain trace broke, loss was counted or the agent died;
the RSS trend is printed for the reader (docs/BENCHMARKS.md).
"""
import collections
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import (Agent, Certificate, Nginx, Receiver, free_port,  # noqa: E402
                     start_chain)

# a chain request's spans, root first: (service, kind, path)
CHAIN = [("wrk", "CLIENT", "/chain"), ("front", "SERVER", "/chain"), ("front", "CLIENT", "/chain"),
         ("mid", "SERVER", "/chain"), ("mid", "CLIENT", "/leaf"), ("leaf", "SERVER", "/leaf")]
SETTLE = 10.0  # seconds without a new span before a trace is judged


def chain_problem(spans):
    """None if spans are one whole chain request (CHAIN, each the child of the
    one before), else what is wrong."""
    got = sorted((s["svc"], s["kind"], s["path"]) for s in spans)
    if got != sorted(CHAIN):
        n = collections.Counter(got)
        return "%d spans: %s" % (len(got), ", ".join("%s %s %s x%d" % (k + (v,)) for k, v in sorted(n.items())))
    by = {(s["svc"], s["kind"]): s for s in spans}
    parent = ""
    for svc, kind, _ in CHAIN:
        s = by[(svc, kind)]
        if s["parent"] != parent:
            return "%s %s's parent is not the %s" % (svc, kind, "root" if not parent else "span before")
        parent = s["id"]
    return None


class SoakReceiver(Receiver):
    """Keeps only what the checks need: chain spans by trace until judged,
    counts of the rest."""

    def __init__(self):
        self.pending = {}  # trace id -> [last arrival, spans]
        self.whole = 0
        self.broken = []
        self.others = 0
        self.chain_spans = 0
        super().__init__()

    def _add(self, req, headers):
        now = time.time()
        with self.lock:
            for rs in req.resource_spans:
                svc = next((kv.value.string_value for kv in rs.resource.attributes
                            if kv.key == "service.name"), "")
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        path = next((kv.value.string_value for kv in s.attributes
                                     if kv.key == "url.path"), "")
                        if path not in ("/chain", "/leaf"):
                            self.others += 1
                            continue
                        self.chain_spans += 1
                        t = self.pending.setdefault(s.trace_id, [now, []])
                        t[0] = now
                        t[1].append({"svc": svc, "kind": {2: "SERVER", 3: "CLIENT"}.get(s.kind, s.kind),
                                     "path": path, "id": s.span_id.hex(),
                                     "parent": s.parent_span_id.hex()})

    def judge(self, all_of_them=False):
        now = time.time()
        with self.lock:
            for tid in [t for t, v in self.pending.items() if all_of_them or now - v[0] > SETTLE]:
                problem = chain_problem(self.pending.pop(tid)[1])
                if problem:
                    self.broken.append((tid.hex(), problem))
                else:
                    self.whole += 1


class Load:
    """The background clients: churn and idle connections, in threads."""

    def __init__(self, port, tls_port):
        self.port, self.tls_port = port, tls_port
        self.stop = threading.Event()
        self.curls = self.curl_failures = 0
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self.churn, self.idle)]
        for t in self.threads:
            t.start()

    def churn(self):
        n = 0
        while not self.stop.wait(0.1):
            n += 1
            url = ("https://127.0.0.1:%d/" % self.tls_port) if n % 2 else ("http://127.0.0.1:%d/" % self.port)
            r = subprocess.run(["curl", "-skf", "-o", "/dev/null", url], timeout=10)
            self.curls += 1
            self.curl_failures += r.returncode != 0

    def idle(self):
        socks, begun = [], set()
        while not self.stop.is_set():
            socks = [s for s in socks if s.fileno() != -1]
            begun &= set(socks)
            while len(socks) < 220:
                try:
                    socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=2))
                except OSError:
                    break
            for s in socks[:20]:  # slowloris: a request line, then a header byte every 5 s
                try:
                    s.send(b"X" if s in begun else b"GET / HTTP/1.1\r\n")
                    begun.add(s)
                except OSError:
                    s.close()
            # rude: garbage first bytes on nine, a request line sent again and
            # again on the first (nginx answers 400 and closes; the answer is
            # read a byte every 5 s, after the reset too: what merged traces
            # before 2026-12-03, test_bytes_read_after_a_reset_serve_no_request)
            for i, s in enumerate(socks[20:30]):
                try:
                    s.send(b"GET / HTTP/1.1\r\n" if i == 0 else b"X")
                except OSError:
                    s.close()
            self.stop.wait(5)
            for s in socks:  # those nginx closed (its timeouts) go, others stay
                if s.fileno() == -1:
                    continue
                s.setblocking(False)
                try:
                    if s.recv(1) == b"":
                        s.close()
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
        for s in socks:
            s.close()

    def end(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime, stime


def wrk(url, conns, secs, script):
    return subprocess.Popen(["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "-s", script, url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def requests_done(out):
    for line in out.splitlines():
        if "requests in" in line:
            return int(line.split()[0])
    return -1


def main():
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    args = sys.argv[2:] or ["--inject=on"]
    secs = int(minutes * 60)
    tmp = tempfile.mkdtemp(prefix="zs-soak-")
    pace = os.path.join(tmp, "pace.lua")
    with open(pace, "w") as f:
        f.write("function delay() return 20 end\n")
    ports = [free_port() for _ in range(5)]
    cert = Certificate()
    rec = SoakReceiver()
    started, failed = [], False
    agent = None
    try:
        started.append(Nginx(ports[0]))
        started.append(Nginx(ports[1], tls=cert))
        started.extend(start_chain(ports[2:5]))
        agent = Agent(rec, ports=ports, args=args)
        print("soak: %g min, agent %s, ports %s" % (minutes, " ".join(args), ports), flush=True)
        load = Load(ports[0], ports[1])
        chain = wrk("http://127.0.0.1:%d/chain" % ports[2], 2, secs, pace)
        static = wrk("http://127.0.0.1:%d/" % ports[0], 10, secs, pace)
        t0 = time.time()
        rss = []
        hz, ticks = os.sysconf("SC_CLK_TCK"), [(t0, cpu_ticks(agent.proc.pid))]
        print("%6s %8s %6s %9s %7s %7s %6s %s" % ("s", "RSS MiB", "CPU %", "spans", "whole", "broken",
                                                   "conns", "loss"), flush=True)
        while chain.poll() is None or static.poll() is None:
            time.sleep(30 - (time.time() - t0) % 30)
            if agent.proc.poll() is not None:
                raise AssertionError("agent exited: " + agent.stderr())
            rec.judge()
            m = agent.metrics()
            lost = agent.lost(m)
            rss.append((time.time() - t0, rss_kib(agent.proc.pid)))
            ticks.append((time.time(), cpu_ticks(agent.proc.pid)))
            cpu = 100.0 * (ticks[-1][1] - ticks[-2][1]) / hz / (ticks[-1][0] - ticks[-2][0])
            print("%6.0f %8.1f %6.1f %9d %7d %7d %6d %s" % (
                rss[-1][0], rss[-1][1] / 1024, cpu, rec.chain_spans + rec.others, rec.whole,
                len(rec.broken), m.get("zerospan_connections_tracked", -1), lost or "-"), flush=True)
        load.end()
        n_chain = requests_done(chain.communicate()[0])
        n_static = requests_done(static.communicate()[0])
        time.sleep(5)  # the last export (100 ms schedule) and the links' waits
        rec.judge(all_of_them=True)
        lost = agent.lost()
        steady = [r for t, r in rss if t >= 120] or [r for _, r in rss]
        third = max(1, len(steady) // 3)
        print("\nrequests: chain %d, static %d, curl %d (%d failed)" % (
            n_chain, n_static, load.curls, load.curl_failures))
        print("chain traces: %d whole, %d broken, %d spans; other spans %d" % (
            rec.whole, len(rec.broken), rec.chain_spans, rec.others))
        for tid, why in rec.broken[:5]:
            print("  broken %s: %s" % (tid, why))
        print("RSS MiB from 2 min: first third %.1f, last third %.1f, max %.1f" % (
            sum(steady[:third]) / third / 1024, sum(steady[-third:]) / third / 1024,
            max(steady) / 1024))
        print("loss counted: %s" % (lost or "none"))
        failed = bool(rec.broken or lost or load.curl_failures or rec.whole < n_chain * 0.99)
    finally:
        if agent:
            agent.stop()
        for p in reversed(started):
            p.stop()
        rec.close()
        cert.remove()
        os.unlink(pace)
        os.rmdir(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
