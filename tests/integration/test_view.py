#!/usr/bin/python3
"""The live view and the graph API: a 3-service chain plus an erroring
endpoint; /api/graph has exactly the expected nodes and edges, `zerospan
graph --dot` prints them, and in a real headless Chromium (Debian's, driven
by playwright-core) the page shows the services and opens a trace's
waterfall. The screenshot lands in build/live-view.png (docs/live-view.png
is one of these)."""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import AGENT, ROOT, Agent, Receiver, dump, free_port, main, run, start_chain  # noqa: E402

PY = sys.executable
SERVERS = os.path.join(os.path.dirname(__file__), "servers")
DRIVER = os.path.join(os.path.dirname(__file__), "view", "drive.js")


def get(agent, path):
    return urllib.request.urlopen("http://127.0.0.1:%d%s" % (agent.admin_port, path), timeout=5).read().decode()


def test_graph_api_and_live_view_in_chromium():
    ports = [free_port() for _ in range(3)]
    rec = Receiver()
    agent = Agent(rec, ports=ports)
    procs = []
    try:
        procs = start_chain(ports)
        for i in range(5):
            assert run(["curl", "-sS", "http://127.0.0.1:%d/chain/%d" % (ports[0], i)]).returncode == 0
        for i in range(2):
            assert run(["curl", "-sS", "http://127.0.0.1:%d/fail/%d" % (ports[2], i)]).returncode == 0
        spans = rec.wait(lambda s: True, 34, timeout=20)
        assert len(spans) == 34, dump(spans)

        g = json.loads(get(agent, "/api/graph"))
        nodes = {n["id"]: n for n in g["nodes"]}
        assert set(nodes) == {"curl", "front", "mid", "leaf"}, nodes
        assert nodes["leaf"]["requests"] == 7 and nodes["leaf"]["errors"] == 2, nodes["leaf"]
        assert nodes["front"]["requests"] == 5 and nodes["front"]["pid"] == procs[2].p.pid, nodes["front"]
        assert "python" in nodes["mid"]["exe"], nodes["mid"]
        assert 0 < nodes["front"]["p95_seconds"] < 10, nodes["front"]
        edges = {(e["client"], e["server"]): (e["requests"], e["failed"]) for e in g["edges"]}
        assert edges == {("curl", "front"): (5, 0), ("front", "mid"): (5, 0), ("mid", "leaf"): (5, 0),
                         ("curl", "leaf"): (2, 2)}, edges

        r = run([AGENT, "graph", "--dot", "--admin-addr=127.0.0.1:%d" % agent.admin_port])
        assert r.returncode == 0 and r.stdout.startswith("digraph zerospan {"), (r.stdout, r.stderr)
        for c, s in edges:
            assert '"%s" -> "%s"' % (c, s) in r.stdout, r.stdout
        r = run([AGENT, "graph", "--admin-addr=127.0.0.1:1"])
        assert r.returncode == 1 and "zerospan graph" in r.stderr, r.stderr

        t = json.loads(get(agent, "/api/traces"))["traces"]
        assert len(t) == 7, [len(x["spans"]) for x in t]
        assert sorted(len(x["spans"]) for x in t) == [2, 2, 6, 6, 6, 6, 6]
        assert sum(x["error"] for x in t) == 2

        shot = os.path.join(ROOT, "build", "live-view.png")
        env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "build", "view-test", "node_modules"))
        r = run(["node", DRIVER, "http://127.0.0.1:%d/" % agent.admin_port, shot,
                 "curl", "front", "mid", "leaf"], env=env, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        rep = json.loads(r.stdout.strip().splitlines()[-1])
        assert sorted(rep["nodes"]) == ["curl", "front", "leaf", "mid"], rep
        assert sorted(map(tuple, rep["edges"])) == sorted(edges), rep
        assert rep["waterfall_visible"] and len(rep["waterfall"]) == 6, rep
        assert any("front" in w and "GET /chain/{id}" in w for w in rep["waterfall"]), rep["waterfall"]
        assert not rep["errors"], rep["errors"]
        assert os.path.getsize(shot) > 10000
    finally:
        for x in reversed(procs):
            x.stop()
        agent.stop()
        rec.close()


TESTS = [test_graph_api_and_live_view_in_chromium]

if __name__ == "__main__":
    main(TESTS)
