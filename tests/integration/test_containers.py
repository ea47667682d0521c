#!/usr/bin/python3
"""Container identity: no container runtime runs here, so the test places
real server processes in cgroups named the way docker and containerd
(under Kubernetes, systemd driver) name theirs, on this machine's cgroup v2
hierarchy, and checks that the exported spans carry container.id (and
k8s.pod.uid), that /api/graph shows it, and that a call from one
"container" to another forms one trace. The cgroups are made and removed
by the test."""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Agent, Proc, Receiver, dump, free_port, kubepods_cgroup, main, place,  # noqa: E402
                     remove_cgroups, run)

PY = sys.executable
SERVERS = os.path.join(os.path.dirname(__file__), "servers")
ID_A = "a1" * 32
ID_B = "b2" * 32
POD = "8f2c1d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"


def test_container_ids_and_a_call_between_containers():
    ports = [free_port(), free_port()]
    rec = Receiver()
    procs, made = [], []
    agent = None
    try:
        leaf = Proc([PY, os.path.join(SERVERS, "chain_server.py"), str(ports[1]), "leaf"],
                    env={"OTEL_SERVICE_NAME": "leaf"}, wait_port=ports[1])
        procs.append(leaf)
        front = Proc([PY, os.path.join(SERVERS, "chain_server.py"), str(ports[0]), "thread",
                      "http://127.0.0.1:%d/leaf" % ports[1]], env={"OTEL_SERVICE_NAME": "front"},
                     wait_port=ports[0])
        procs.append(front)
        tag = "zs-test-%d" % os.getpid()
        made += place(front.p.pid, "%s/system.slice/docker-%s.scope" % (tag, ID_A))
        made += place(leaf.p.pid, kubepods_cgroup(tag, POD, ID_B))
        assert ID_A in open("/proc/%d/cgroup" % front.p.pid).read()
        agent = Agent(rec, ports=ports)
        r = run(["curl", "-sS", "http://127.0.0.1:%d/chain" % ports[0]])
        assert r.returncode == 0, r.stderr
        spans = rec.wait(lambda s: True, 4, timeout=15)
        assert len(spans) == 4, dump(spans)
        by = {(s["resource"]["service.name"], s["kind"]): s for s in spans}
        assert by[("front", "SERVER")]["resource"]["container.id"] == ID_A, by[("front", "SERVER")]["resource"]
        assert by[("front", "SERVER")]["resource"]["container.runtime"] == "docker"
        assert by[("front", "CLIENT")]["resource"]["container.id"] == ID_A
        leaf_res = by[("leaf", "SERVER")]["resource"]
        assert leaf_res["container.id"] == ID_B and leaf_res["k8s.pod.uid"] == POD, leaf_res
        assert leaf_res["container.runtime"] == "containerd", leaf_res
        assert "container.id" not in by[("curl", "CLIENT")]["resource"], "curl runs on the host"
        assert len({s["trace_id"] for s in spans}) == 1, dump(spans)
        g = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/api/graph" % agent.admin_port,
                                              timeout=5).read())
        nodes = {n["id"]: n for n in g["nodes"]}
        assert nodes["front"]["container_id"] == ID_A and nodes["leaf"]["container_id"] == ID_B, nodes
        agent.assert_no_loss()
    finally:
        for p in reversed(procs):
            p.stop()
        if agent:
            agent.stop()
        rec.close()
        remove_cgroups(made)


TESTS = [test_container_ids_and_a_call_between_containers]

if __name__ == "__main__":
    main(TESTS)
