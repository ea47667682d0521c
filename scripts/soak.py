"""A long run of mixed traffic under one agent: does its memory stay flat,
does it lose nothing, and does every request through a three-service chain
end as one whole trace, minute after minute?
  sudo /usr/bin/python3 scripts/soak.py [--faults] [MINUTES] [AGENT_ARG ...]
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

--faults (at least 9 minutes) adds, one after another: the endpoint
answering 503 with Retry-After (1 min in, for 30 s), answering after 3 s (2
min, 30 s), refusing connections (3 min, 60 s), the agent killed with
SIGKILL and started again (5 min), stopped with SIGTERM and started again (6
min). Then it fails on: a span received twice; a chain trace linked wrongly
(a span whose span before is there but is not its parent, more spans than
the chain); a chain trace missing spans outside the faults' windows (from
12 s before each to 12 s after); an agent stopped by SIGTERM whose spans received do not
match what it counted (made = exported + dropped + unconfirmed); any loss
counted other than dropped spans; a failed client.
"""
import collections
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import (Agent, Certificate, Nginx, Receiver, free_port,  # noqa: E402
                     rss_kib, start_chain, wait_programs_gone)

# a chain request's spans, root first: (service, kind, path)
CHAIN = [("wrk", "CLIENT", "/chain"), ("front", "SERVER", "/chain"), ("front", "CLIENT", "/chain"),
         ("mid", "SERVER", "/chain"), ("mid", "CLIENT", "/leaf"), ("leaf", "SERVER", "/leaf")]
SETTLE = 10.0  # seconds without a new span before a trace is judged


def chain_verdict(spans):
    """("whole", None) if spans are one whole chain request (CHAIN, each the
    child of the one before); ("incomplete", why) if some are missing but
    each of those there whose span before is there is its child (a span
    lost: dropped and counted, or its request read by an agent since
    killed); ("mislinked", why) otherwise."""
    got = [(s["svc"], s["kind"], s["path"]) for s in spans]
    n = collections.Counter(got)
    summary = "%d spans: %s" % (len(got), ", ".join("%s %s %s x%d" % (k + (v,)) for k, v in sorted(n.items())))
    if any(k not in CHAIN or v > 1 for k, v in n.items()):
        return "mislinked", summary
    by = {(s["svc"], s["kind"]): s for s in spans}
    before = None
    for i, (svc, kind, _) in enumerate(CHAIN):
        s = by.get((svc, kind))
        if s:
            # the span before missing (dropped, or its request read by an
            # agent since killed): any parent, or none, will do
            want = "" if i == 0 else before["id"] if before else None
            if want is not None and s["parent"] != want:
                return "mislinked", "%s %s's parent is not the %s (%s)" % (
                    svc, kind, "root" if i == 0 else "span before", summary)
        before = s
    return ("whole", None) if len(got) == len(CHAIN) else ("incomplete", summary)


class SoakReceiver(Receiver):
    """Keeps only what the checks need: chain spans by trace until judged,
    counts of the rest."""

    def __init__(self):
        self.pending = {}  # trace id -> [last arrival, spans]
        self.whole = 0
        self.broken = []  # (trace id, first span's start in s, verdict, why)
        self.others = 0
        self.chain_spans = 0
        self.ids = set()  # every span id received
        self.twice = 0
        super().__init__()

    def received(self):
        with self.lock:
            return self.chain_spans + self.others

    def _add(self, req, headers):
        now = time.time()
        with self.lock:
            for rs in req.resource_spans:
                svc = next((kv.value.string_value for kv in rs.resource.attributes
                            if kv.key == "service.name"), "")
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        if s.span_id in self.ids:
                            self.twice += 1
                        self.ids.add(s.span_id)
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
                                     "parent": s.parent_span_id.hex(), "start": s.start_time_unix_nano / 1e9})

    def judge(self, all_of_them=False):
        now = time.time()
        with self.lock:
            for tid in [t for t, v in self.pending.items() if all_of_them or now - v[0] > SETTLE]:
                spans = self.pending.pop(tid)[1]
                verdict, why = chain_verdict(spans)
                if verdict == "whole":
                    self.whole += 1
                else:
                    self.broken.append((tid.hex(), min(s["start"] for s in spans), verdict, why))


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


# --faults: (seconds in, what, seconds it lasts); windows in which chain
# traces may miss spans: from 12 s before (what the queue and the batch
# being filled hold) to 12 s after
FAULTS = [(60, "503", 30), (120, "slow", 30), (180, "down", 60), (300, "SIGKILL", 0), (360, "SIGTERM", 0)]
WINDOW = 12.0


def final_counts(stderr):
    """The agent's last log line's counters (it logs them when stopped)."""
    line = [ln for ln in stderr.splitlines() if "final:" in ln]
    return dict(kv.split("=") for kv in line[-1].split("final:")[1].split()) if line else {}


class Faults:
    """Runs FAULTS against the receiver and the agent; keeps the windows and
    what each agent stopped by SIGTERM counted against what arrived."""

    def __init__(self, rec, start_agent, t0):
        self.rec, self.start_agent, self.t0 = rec, start_agent, t0
        self.todo = list(FAULTS)
        self.ending = None  # (time to end it, what)
        self.windows = []  # (from, to) wall clock
        self.accounts = []  # (what, counted, received)
        self.received_before = 0
        self.left_attached = []

    def tick(self, agent):
        """Returns the agent to use from now on."""
        now = time.time()
        if self.ending and now >= self.ending[0]:
            what = self.ending[1]
            if what == "503":
                with self.rec.lock:
                    self.rec.status_plan = []
            elif what == "slow":
                self.rec.delay = 0
            elif what == "down":
                self.rec.resume()
            self.windows[-1] = (self.windows[-1][0], now + WINDOW)
            print("%6.0f fault over: %s" % (now - self.t0, what), flush=True)
            self.ending = None
        if not self.todo or now - self.t0 < self.todo[0][0]:
            return agent
        _, what, lasts = self.todo.pop(0)
        print("%6.0f fault: %s" % (now - self.t0, what), flush=True)
        self.windows.append((now - WINDOW, now + lasts + WINDOW))
        if what == "503":
            with self.rec.lock:
                self.rec.status_plan = [503] * 10 ** 7
        elif what == "slow":
            self.rec.delay = 3.0
        elif what == "down":
            self.rec.pause()
        else:
            sig = signal.SIGKILL if what == "SIGKILL" else signal.SIGTERM
            agent.stop(sig)
            got = self.rec.received()
            if sig == signal.SIGTERM:
                self.accounts.append((what, final_counts(agent.last_stderr), got - self.received_before))
            else:
                left = wait_programs_gone(timeout=5)
                if left:
                    self.left_attached.append(sorted(left))
            self.received_before = got
            agent = self.start_agent()
            self.windows[-1] = (self.windows[-1][0], time.time() + WINDOW)
        if lasts:
            self.ending = (now + lasts, what)
        return agent

    def in_window(self, t):
        return any(a <= t <= b for a, b in self.windows)


def account_problem(counted, received):
    """None if an agent's final counters agree with what arrived from it."""
    c = {k: int(v) for k, v in counted.items() if v.isdigit()}
    if not c:
        return "no final counters logged"
    made = c["spans"]
    if made != c["exported"] + c["dropped_queue"] + c["dropped_export"] + c["unconfirmed"]:
        return "spans made %d != exported + dropped + unconfirmed (%s)" % (made, counted)
    if not c["exported"] <= received <= c["exported"] + c["unconfirmed"]:
        return "received %d, exported %d (+%d unconfirmed)" % (received, c["exported"], c["unconfirmed"])
    return None


def wrk_problems(out):
    return [ln.strip() for ln in out.splitlines() if "Socket errors" in ln or "Non-2xx" in ln]


def main():
    argv = sys.argv[1:]
    faults = "--faults" in argv
    argv = [a for a in argv if a != "--faults"]
    minutes = float(argv[0]) if argv else 10.0
    args = argv[1:] or ["--inject=on"]
    if faults and minutes < 9:
        sys.exit("--faults needs 9 minutes or more")
    # with faults the agent's own export settings (a queue of 2,048 spans,
    # batches of 512 every 5 s), not the tests' (a queue no outage fills)
    env = {"OTEL_BSP_SCHEDULE_DELAY": "5000", "OTEL_BSP_MAX_QUEUE_SIZE": "2048",
           "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512"} if faults else None
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

        def start_agent():
            return Agent(rec, ports=ports, args=args, env=env)

        agent = start_agent()
        print("soak: %g min, agent %s, ports %s%s" % (minutes, " ".join(args), ports,
                                                       ", faults" if faults else ""), flush=True)
        load = Load(ports[0], ports[1])
        chain = wrk("http://127.0.0.1:%d/chain" % ports[2], 2, secs, pace)
        static = wrk("http://127.0.0.1:%d/" % ports[0], 10, secs, pace)
        t0 = time.time()
        fault = Faults(rec, start_agent, t0) if faults else None
        rss = []
        hz = os.sysconf("SC_CLK_TCK")
        ticks = [(t0, cpu_ticks(agent.proc.pid), agent.proc.pid)]
        print("%6s %8s %6s %9s %7s %7s %6s %s" % ("s", "RSS MiB", "CPU %", "spans", "whole", "broken",
                                                   "conns", "loss"), flush=True)
        next_line = t0 + 30
        while chain.poll() is None or static.poll() is None:
            time.sleep(min(1.0, max(0.0, next_line - time.time())))
            if fault:
                agent = fault.tick(agent)
            if agent.proc.poll() is not None:
                raise AssertionError("agent exited: " + agent.stderr())
            if time.time() < next_line:
                continue
            next_line += 30
            rec.judge()
            m = agent.metrics()
            lost = agent.lost(m)
            rss.append((time.time() - t0, rss_kib(agent.proc.pid)))
            now_ticks = (time.time(), cpu_ticks(agent.proc.pid), agent.proc.pid)
            cpu = (100.0 * (now_ticks[1] - ticks[-1][1]) / hz / (now_ticks[0] - ticks[-1][0])
                   if now_ticks[2] == ticks[-1][2] else float("nan"))
            ticks.append(now_ticks)
            print("%6.0f %8.1f %6.1f %9d %7d %7d %6d %s" % (
                rss[-1][0], rss[-1][1] / 1024, cpu, rec.received(), rec.whole,
                len(rec.broken), m.get("zerospan_connections_tracked", -1), lost or "-"), flush=True)
        load.end()
        chain_out, static_out = chain.communicate()[0], static.communicate()[0]
        n_chain, n_static = requests_done(chain_out), requests_done(static_out)
        time.sleep(12 if faults else 5)  # the last export (5 s or 100 ms schedule) and the links' waits
        rec.judge(all_of_them=True)
        lost = agent.lost()
        agent.stop()
        problems = wrk_problems(chain_out) + wrk_problems(static_out)
        if fault:
            fault.accounts.append(("end", final_counts(agent.last_stderr), rec.received() - fault.received_before))
        steady = [r for t, r in rss if t >= 120] or [r for _, r in rss]
        third = max(1, len(steady) // 3)
        print("\nrequests: chain %d, static %d, curl %d (%d failed)%s" % (
            n_chain, n_static, load.curls, load.curl_failures, "; " + "; ".join(problems) if problems else ""))
        mislinked = [b for b in rec.broken if b[2] == "mislinked"]
        outside = [b for b in rec.broken if b[2] == "incomplete" and not (fault and fault.in_window(b[1]))]
        inside = len(rec.broken) - len(mislinked) - len(outside)
        print("chain traces: %d whole, %d broken (%d missing spans in a fault's window, %d outside, "
              "%d linked wrongly), %d spans; other spans %d; received twice %d" % (
                  rec.whole, len(rec.broken), inside, len(outside), len(mislinked), rec.chain_spans,
                  rec.others, rec.twice))
        for tid, t, verdict, why in (mislinked + outside)[:8]:
            print("  %s %s at %.0f s: %s" % (verdict, tid, t - t0, why))
        print("RSS MiB from 2 min: first third %.1f, last third %.1f, max %.1f" % (
            sum(steady[:third]) / third / 1024, sum(steady[-third:]) / third / 1024,
            max(steady) / 1024))
        accounts_bad = []
        if fault:
            for what, counted, received in fault.accounts:
                problem = account_problem(counted, received)
                print("agent stopped by %s: %s; received %d: %s" % (
                    "the end" if what == "end" else what,
                    " ".join("%s=%s" % kv for kv in counted.items() if kv[0] in (
                        "spans", "exported", "dropped_queue", "dropped_export", "unconfirmed")),
                    received, problem or "all accounted for"))
                if problem:
                    accounts_bad.append(problem)
            if fault.left_attached:
                print("left attached after SIGKILL: %s" % fault.left_attached)
            # dropped spans are what the faults are for; any other loss is not
            lost = {k: v for k, v in lost.items() if not k.startswith("zerospan_spans_dropped")}
        print("loss counted%s: %s" % (" (other than dropped spans)" if fault else "", lost or "none"))
        failed = bool(mislinked or outside or lost or load.curl_failures or problems or rec.twice or
                      accounts_bad or (fault and fault.left_attached) or
                      (not fault and rec.whole < n_chain * 0.99))
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
