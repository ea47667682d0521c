#!/usr/bin/python3
"""Kubernetes metadata. There is no cluster on this machine: the API server is
hand-built (fake_kube_api.py: HTTPS, bearer token, list + watch as the real
one serves them) and the "containers" are real server processes that the test
places in cgroups named the way the kubelet and containerd name theirs. The
agent, its HTTP client, the spans and their OTLP decoding are real.

Shows: pods of this node only (field selector), container id -> pod, owner
(Deployment above its ReplicaSet, StatefulSet, DaemonSet), service.name order
(the process's own OTEL_SERVICE_NAME, app.kubernetes.io/name, owner name,
executable), a pod that appears after its process (watch event), an API
server restart with its history compacted (410 -> relist), no polling while
nothing changes, and a call between two pods forming one trace."""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from fake_kube_api import FakeKubeAPI  # noqa: E402
from harness import (Agent, Certificate, Proc, Receiver, dump, free_port, kubepods_cgroup,  # noqa: E402
                     main, place, remove_cgroups, run)

PY = sys.executable
CHAIN = os.path.join(os.path.dirname(__file__), "servers", "chain_server.py")
NODE = "node-a"
TOKEN = "zs-test-token-3f9a"


def cid(c):
    return (c * 64)[:64]


def wait_metric(agent, name, pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = agent.metrics().get(name, 0)
        if pred(v):
            return v
        time.sleep(0.1)
    raise AssertionError("%s never satisfied: %s; %s" % (name, agent.metrics().get(name), agent.stderr()))


def curl(port, path="/x"):
    r = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:%d%s" % (port, path)])
    assert r.returncode == 0 and r.stdout == "200", (r.stdout, r.stderr)


def server_span(rec, port, n_before, timeout=15):
    mine = rec.wait(lambda s: s["kind"] == "SERVER" and s["attrs"].get("server.port") == port,
                    n_before + 1, timeout=timeout)
    assert len(mine) == n_before + 1, dump(rec.spans)
    return mine[-1]


def test_pod_metadata_watch_and_restart():
    cert = Certificate()
    sa = tempfile.mkdtemp(prefix="zs-sa-")
    with open(os.path.join(sa, "token"), "w") as f:
        f.write(TOKEN + "\n")
    os.symlink(cert.cert, os.path.join(sa, "ca.crt"))
    api = FakeKubeAPI(cert.cert, cert.key, TOKEN)
    rec = Receiver()
    procs, made, agent = [], [], None
    tag = "zs-test-k8s-%d" % os.getpid()
    ports = [free_port() for _ in range(6)]
    ids = {k: cid(k) for k in "abcdef"}
    uids = {k: "%s0000000-1111-2222-3333-444444444444" % k for k in "abcdef"}
    try:
        api.put(api.pod(uids["a"], "checkout-5d8f7c9b4d-q7x2m", NODE, [("app", "containerd://" + ids["a"])],
                        owner=("ReplicaSet", "checkout-5d8f7c9b4d"), labels={"pod-template-hash": "5d8f7c9b4d"}))
        api.put(api.pod(uids["b"], "db-0", NODE, [("server", "containerd://" + ids["b"])],
                        owner=("StatefulSet", "db"), labels={"app.kubernetes.io/name": "inventory"}))
        api.put(api.pod(uids["c"], "ds-x1", NODE, [("c", "containerd://" + ids["c"])], owner=("DaemonSet", "ds"),
                        labels={"app.kubernetes.io/name": "label-name"}))
        # same container id pattern, other node: the agent must not learn it
        api.put(api.pod(uids["d"], "elsewhere", "node-b", [("c", "containerd://" + ids["d"])],
                        owner=("DaemonSet", "other")))

        def serve(k, port, mode="leaf", nxt=None, env=None):
            p = Proc([PY, CHAIN, str(port), mode] + ([nxt] if nxt else []), env=env, wait_port=port)
            procs.append(p)
            made.extend(place(p.p.pid, kubepods_cgroup(tag, uids[k], ids[k])))
            return p

        serve("b", ports[1])
        serve("a", ports[0], "thread", "http://127.0.0.1:%d/leaf" % ports[1])
        serve("c", ports[2], env={"OTEL_SERVICE_NAME": "own-name"})
        serve("d", ports[3])
        serve("e", ports[4])
        agent = Agent(rec, ports=ports, args=["--k8s=on", "--k8s-api=https://127.0.0.1:%d" % api.port,
                                              "--k8s-node=" + NODE, "--k8s-sa-dir=" + sa])
        wait_metric(agent, "zerospan_k8s_containers", lambda v: v == 3)
        first = api.lists()[0][1]
        assert "fieldSelector=spec.nodeName%3Dnode-a" in first and "limit=" in first, first
        assert all(ok for _, _, ok in api.requests), "token not sent"

        # a call from the Deployment's pod to the StatefulSet's pod: one trace
        r = run(["curl", "-sS", "http://127.0.0.1:%d/chain" % ports[0]])
        assert r.returncode == 0, r.stderr
        spans = rec.wait(lambda s: True, 4, timeout=15)
        assert len(spans) == 4, dump(spans)
        assert len({s["trace_id"] for s in spans}) == 1, dump(spans)
        by = {(s["resource"].get("k8s.pod.name"), s["kind"]): s["resource"] for s in spans}
        front = by[("checkout-5d8f7c9b4d-q7x2m", "SERVER")]
        assert front["service.name"] == "checkout", front
        assert front["k8s.deployment.name"] == "checkout", front
        assert front["k8s.replicaset.name"] == "checkout-5d8f7c9b4d", front
        assert front["k8s.namespace.name"] == "shop" and front["k8s.node.name"] == NODE, front
        assert front["k8s.container.name"] == "app" and front["k8s.pod.uid"] == uids["a"], front
        assert front["container.id"] == ids["a"] and front["container.runtime"] == "containerd", front
        assert by[("checkout-5d8f7c9b4d-q7x2m", "CLIENT")]["service.name"] == "checkout"
        leaf = by[("db-0", "SERVER")]
        assert leaf["service.name"] == "inventory", leaf  # the label before the owner
        assert leaf["k8s.statefulset.name"] == "db" and leaf["k8s.container.name"] == "server", leaf
        assert "k8s.pod.name" not in by[(None, "CLIENT")], "curl runs on the host"

        curl(ports[2])
        own = server_span(rec, ports[2], 0)["resource"]
        assert own["service.name"] == "own-name", own  # the process's own env first
        assert own["k8s.daemonset.name"] == "ds" and own["k8s.pod.name"] == "ds-x1", own

        curl(ports[3])
        other = server_span(rec, ports[3], 0)["resource"]
        assert other["container.id"] == ids["d"] and "k8s.pod.name" not in other, other
        assert other["service.name"].startswith("python"), other  # the executable

        # a pod the API server announces after its process started: the watch
        curl(ports[4])
        before = server_span(rec, ports[4], 0)["resource"]
        assert "k8s.pod.name" not in before, before
        events = agent.metrics().get("zerospan_k8s_watch_events_total", 0)
        api.put(api.pod(uids["e"], "late-0", NODE, [("web", "containerd://" + ids["e"])],
                        owner=("Job", "late-29417375")))  # a CronJob's Job
        wait_metric(agent, "zerospan_k8s_watch_events_total", lambda v: v > events)
        curl(ports[4])
        after = server_span(rec, ports[4], 1)["resource"]
        assert after["k8s.pod.name"] == "late-0" and after["service.name"] == "late", after
        assert after["k8s.job.name"] == "late-29417375" and after["k8s.cronjob.name"] == "late", after

        # nothing changes: the watch stays open, no polling
        time.sleep(0.5)
        n0 = len(api.requests)
        time.sleep(3)
        assert len(api.requests) == n0, api.requests[n0:]

        # API server restart; while it is away a pod comes and history is compacted
        lists0 = len(api.lists())
        api.stop()
        wait_metric(agent, "zerospan_k8s_errors_total", lambda v: v >= 1)
        serve("f", ports[5])
        api.put(api.pod(uids["f"], "after-restart", NODE, [("web", "containerd://" + ids["f"])],
                        owner=("ReplicaSet", "plain-rs")))
        api.compact()
        api.start()
        wait_metric(agent, "zerospan_k8s_containers", lambda v: v == 5, timeout=40)
        assert len(api.lists()) > lists0, "no relist after 410"
        curl(ports[5])
        f = server_span(rec, ports[5], 0)["resource"]
        assert f["k8s.pod.name"] == "after-restart" and f["k8s.replicaset.name"] == "plain-rs", f
        assert f["service.name"] == "plain-rs", f
        assert "k8s.deployment.name" not in f, f
        m = agent.assert_no_loss()
        assert m["zerospan_k8s_relists_total"] >= 2 and m["zerospan_k8s_objects_invalid_total"] == 0, m
        assert "listing pods" in agent.stderr() or "watching pods" in agent.stderr(), agent.stderr()
    finally:
        for p in reversed(procs):
            p.stop()
        if agent:
            agent.stop()
        rec.close()
        api.stop()
        remove_cgroups(made)
        cert.remove()
        for n in ("token", "ca.crt"):
            os.unlink(os.path.join(sa, n))
        os.rmdir(sa)


def test_bad_credentials_and_unreachable_api():
    """A wrong token or no API server: the agent traces on, logs once, counts,
    and backs off instead of hammering."""
    cert = Certificate()
    sa = tempfile.mkdtemp(prefix="zs-sa-")
    with open(os.path.join(sa, "token"), "w") as f:
        f.write("wrong-token")
    api = FakeKubeAPI(cert.cert, cert.key, TOKEN)
    rec = Receiver()
    port = free_port()
    agent, srv = None, None
    try:
        srv = Proc([PY, CHAIN, str(port), "leaf"], wait_port=port)
        agent = Agent(rec, ports=[port], args=["--k8s=on", "--k8s-api=https://127.0.0.1:%d" % api.port,
                                               "--k8s-node=" + NODE, "--k8s-sa-dir=" + sa,
                                               "--k8s-max-containers=10"])
        # the CA is missing from sa: certificate verification fails first
        wait_metric(agent, "zerospan_k8s_errors_total", lambda v: v >= 1)
        assert not api.requests, "spoke to an API server it cannot verify"
        os.symlink(cert.cert, os.path.join(sa, "ca.crt"))
        wait_metric(agent, "zerospan_k8s_errors_total", lambda v: v >= 2, timeout=20)
        time.sleep(4)
        n = len(api.requests)
        assert 1 <= n <= 4, "not backing off: %d requests" % n
        assert not any(ok for _, _, ok in api.requests)
        curl(port)
        s = server_span(rec, port, 0)
        assert s["resource"]["service.name"].startswith("python"), s["resource"]
        err = agent.stderr()
        assert err.count("k8s: listing pods") == 1, err  # logged once, not per retry
        assert "HTTP 401" in err or "certificate" in err, err
    finally:
        if srv:
            srv.stop()
        if agent:
            agent.stop()
        rec.close()
        api.stop()
        cert.remove()
        for n in ("token", "ca.crt"):
            try:
                os.unlink(os.path.join(sa, n))
            except OSError:
                pass
        os.rmdir(sa)


TESTS = [test_pod_metadata_watch_and_restart, test_bad_credentials_and_unreachable_api]

if __name__ == "__main__":
    main(TESTS)
