#!/usr/bin/python3
"""Which request each call of a busy front service goes under: a front (Go
net/http, or node) whose handler calls a python back for every request, N
requests from C concurrent clients, one path per request; the agent's spans
compared per request path. Prints how many calls are right (the front's
CLIENT span under its own SERVER span, the back's SERVER span under it), under
another request, or roots (their traces split).
  sudo /usr/bin/python3 scripts/links.py [--front=go|node] [--inject=force|off]
       [--clients=8] [--requests=400] [--fixed]
--fixed: the front calls /leaf<path>, so that the agent cannot pair a call
with its request by method and path (as a proxy's). ZS_TEST_AGENT=<binary>
runs another build (A/B). Uses the integration tests' harness."""
import argparse
import os
import subprocess
import sys
import threading
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Agent, Proc, Receiver, free_port  # noqa: E402


def go_front():
    """build/go/go_front, built from tests/integration/servers/go_front when older."""
    src = os.path.join(ROOT, "tests", "integration", "servers", "go_front", "main.go")
    out = os.path.join(ROOT, "build", "go", "go_front")
    if not os.path.exists(out) or os.path.getmtime(src) > os.path.getmtime(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        env = dict(os.environ, GOCACHE=os.path.join(ROOT, "build/go/cache"), GOPATH=os.path.join(ROOT, "build/go/path"),
                   GO111MODULE="off", GOFLAGS="", CGO_ENABLED="0")
        subprocess.run(["go", "build", "-o", out, src], check=True, env=env)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--front", default="go", choices=["go", "node"])
    ap.add_argument("--inject", default="force", choices=["force", "off"])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--fixed", action="store_true")
    a = ap.parse_args()
    back_p, front_p = free_port(), free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[front_p, back_p], args=["--inject=" + a.inject])
    procs = []
    try:
        procs.append(Proc([sys.executable, os.path.join(ROOT, "tests/integration/servers/chain_server.py"),
                           str(back_p), "leaf"], env={"OTEL_SERVICE_NAME": "back"}, wait_port=back_p))
        cmd = [go_front()] if a.front == "go" else ["node", os.path.join(ROOT, "scripts/links/node_front.js")]
        env = {"OTEL_SERVICE_NAME": "front"}
        if a.fixed:
            env["FIXED"] = "1"
        procs.append(Proc(cmd + [str(front_p), "http://127.0.0.1:%d" % back_p], env=env, wait_port=front_p))

        def client(k):
            for i in range(k, a.requests, a.clients):
                urllib.request.urlopen("http://127.0.0.1:%d/r/%d" % (front_p, i), timeout=10).read()
        ts = [threading.Thread(target=client, args=(k,)) for k in range(a.clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        spans = rec.wait(lambda s: True, 4 * a.requests, timeout=30)
        by = {}
        for s in spans:
            path = s["attrs"].get("url.path") or ""
            by.setdefault(path[5:] if path.startswith("/leaf") else path, []).append(s)
        right = other = roots = missing = 0
        for ss in by.values():
            def get(svc, kind):
                return [s for s in ss if s["resource"]["service.name"] == svc and s["kind"] == kind]
            fs, fc, bs = get("front", "SERVER"), get("front", "CLIENT"), get("back", "SERVER")
            if not (len(fs) == len(fc) == len(bs) == 1):
                missing += 1
            elif fc[0]["parent_span_id"] == fs[0]["span_id"] and bs[0]["parent_span_id"] == fc[0]["span_id"]:
                right += 1
            elif not fc[0]["parent_span_id"]:
                roots += 1
            else:
                other += 1
        print("front=%s inject=%s clients=%d requests=%d%s: right %d, under another request %d, roots %d, "
              "incomplete %d" % (a.front, a.inject, a.clients, a.requests, " fixed" if a.fixed else "",
                                 right, other, roots, missing))
        m = agent.metrics()
        print("agent: " + ", ".join("%s %d" % (k[len("zerospan_"):], v) for k, v in sorted(m.items())
                                    if k.startswith("zerospan_links_") or k == 'zerospan_inject_total{result="injected"}'))
    finally:
        for p in procs:
            p.stop()
        agent.stop()
        rec.close()


if __name__ == "__main__":
    main()
