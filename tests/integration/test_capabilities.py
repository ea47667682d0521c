#!/usr/bin/python3
"""The agent with only the capabilities docs/CAPABILITIES.md lists, as user
nobody (ambient capabilities through setpriv), not root: plain HTTP and
HTTPS spans and traceparent injection all work, and with --yield=on the
agent's busy threads yield the CPU (SCHED_IDLE, CAP_SYS_NICE lets them leave
it); with --tls=off it works without CAP_SYS_ADMIN too, and without
CAP_SYS_NICE its threads keep normal scheduling. CAP_SYS_RESOURCE is kept
only if this machine's bounding set has it (it does not here; Linux >= 5.11
does not need it)."""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (ROOT, Agent, Certificate, Nginx, Proc, Receiver, by_kind,  # noqa: E402
                     dump, free_port, main, run, thread_policies)

CAP_BITS = {"BPF": 39, "PERFMON": 38, "NET_ADMIN": 12, "SYS_ADMIN": 21, "SYS_PTRACE": 19,
            "DAC_READ_SEARCH": 2, "SYS_RESOURCE": 24, "SYS_NICE": 23}


def documented():
    return set(re.findall(r"^\| `CAP_([A-Z_]+)`", open(os.path.join(ROOT, "docs", "CAPABILITIES.md")).read(), re.M))


def bounding():
    line = [ln for ln in open("/proc/self/status") if ln.startswith("CapBnd:")][0]
    return int(line.split()[1], 16)


def setpriv(caps):
    c = ",".join("+" + x.lower() for x in sorted(caps))
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all," + c,
            "--ambient-caps=-all," + c, "--bounding-set=-all," + c]


def run_as(caps, args, check_https):
    web, tls_port = free_port(), free_port()
    cert = Certificate()
    rec = Receiver()
    # listening before the agent: found at its start (sock_diag from inside each network
    # namespace with CAP_SYS_ADMIN, /proc/PID/net/tcp without)
    srv = Proc([sys.executable, "-m", "http.server", str(web), "--bind", "127.0.0.1"],
               cwd=tempfile.gettempdir(), wait_port=web)
    agent = ngx = None
    try:
        agent = Agent(rec, ports=[web, tls_port], args=args + ["--yield=on"], prefix=setpriv(caps))
        m = re.search(r"listening sockets open before the start: (\d+)", agent.stderr())
        assert m and int(m.group(1)) >= 1, agent.stderr()
        status = open("/proc/%d/status" % agent.proc.pid).read()
        assert re.search(r"^Uid:\s+65534\s", status, re.M), "not running as nobody: " + status[:300]
        eff = int(re.search(r"^CapEff:\s+([0-9a-f]+)", status, re.M).group(1), 16)
        assert eff == sum(1 << CAP_BITS[c] for c in caps), (hex(eff), caps)
        policy = thread_policies(agent.proc.pid)["main"]
        if "SYS_NICE" in caps:
            assert policy == 5, "the event loop is not SCHED_IDLE: %d" % policy
        else:
            assert policy == 0 and "keep normal scheduling" in agent.stderr(), (policy, agent.stderr())
        ngx = Nginx(tls_port, tls=cert)
        assert run(["curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:%d/" % web]).returncode == 0
        assert run(["curl", "-sSk", "--http1.1", "-o", "/dev/null",
                    "https://127.0.0.1:%d/index.html" % tls_port]).returncode == 0
        want = 4 if check_https else 2
        spans = rec.wait(lambda s: True, want, timeout=15)
        plain = [s for s in spans if s["attrs"]["url.scheme"] == "http"]
        https = [s for s in spans if s["attrs"]["url.scheme"] == "https"]
        assert len(by_kind(plain, "SERVER")) == 1 and len(by_kind(plain, "CLIENT")) == 1, dump(spans)
        # injected: the SERVER span is the child of curl's CLIENT span
        assert by_kind(plain, "SERVER")[0]["parent_span_id"] == by_kind(plain, "CLIENT")[0]["span_id"]
        assert agent.metrics()['zerospan_inject_total{result="injected"}'] >= 1
        assert len(https) == (2 if check_https else 0), dump(spans)
        agent.assert_no_loss()
    finally:
        if ngx:
            ngx.stop()
        srv.stop()
        if agent:
            agent.stop()
        rec.close()
        cert.remove()


def available(caps):
    return {c for c in caps if c != "SYS_RESOURCE" or bounding() & (1 << CAP_BITS[c])}


def test_documented_capabilities_are_enough():
    caps = available(documented())
    assert caps >= {"BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH"}, caps
    run_as(caps, [], check_https=True)


def test_without_tls_no_sys_admin_nor_sys_nice():
    run_as(available(documented()) - {"SYS_ADMIN", "SYS_NICE"}, ["--tls=off"], check_https=False)


TESTS = [test_documented_capabilities_are_enough, test_without_tls_no_sys_admin_nor_sys_nice]

if __name__ == "__main__":
    main(TESTS)
