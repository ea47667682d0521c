#!/usr/bin/python3
"""The agent as a DaemonSet runs it, for real, with podman: the image built
from deploy/Dockerfile (base made with debootstrap: no registry here), run
with the capabilities of docs/CAPABILITIES.md (those this machine's bounding
set has) and again privileged (the documented variant), with the host's pid
namespace, network and cgroup namespace and the host mounts of
deploy/kubernetes/zerospan.yaml, while the services run in other podman
containers (their own network namespaces, their own python and libssl) and
on the host.

curl (host) -> front (python, host) -(http)-> mid (container A)
            -(https)-> leaf (container B)

must give one trace of 6 spans whose container spans carry podman's
container ids, their service names, and whose HTTPS hop was read through
container B's own libssl (found through /proc/PID/root). The agent finds
its Kubernetes API server the way it does in a pod (KUBERNETES_SERVICE_HOST,
NODE_NAME, the service account mounted at its usual path); that server is
the hand-built one of fake_kube_api.py (no cluster here), listing pod
"leaf-0" with container B's id. Afterwards no program or link of ours is
left. Containers are started and removed by the
test, by name; the images stay as a build cache.

Host set-up this needs on this machine (scripts/container-host.sh, run by
scripts/deps.sh test): its hybrid cgroup layout offers hugetlb on the v2
side, which crun refuses; the script moves that controller to a v1
hierarchy. Every `podman run` also passes --ulimit values below the
caller's: crun may not raise RLIMIT_NOFILE/NPROC without CAP_SYS_RESOURCE."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from fake_kube_api import FakeKubeAPI  # noqa: E402
from harness import (Certificate, Receiver, dump, free_port, main, run, wait_programs_gone,  # noqa: E402
                     wait_tcp)
from test_capabilities import available, documented  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SERVERS = os.path.join(HERE, "servers")
AGENT_IMAGE = "localhost/zerospan:test"
SVC_IMAGE = "localhost/zs-test-services:1"
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def podman(*args, timeout=600, check=True):
    r = run(["podman"] + list(args), timeout=timeout)
    if check:
        assert r.returncode == 0, "podman %s: %s" % (" ".join(args), r.stderr[-3000:])
    return r


BUILT = []


def build_images():
    """Once per run: the image of this checkout, and the services' image."""
    if BUILT:
        return
    r = run([os.path.join(ROOT, "deploy", "build-image.sh"), AGENT_IMAGE], timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    if podman("image", "exists", SVC_IMAGE, check=False).returncode != 0:
        podman("build", "-q", *LIMITS, "-t", SVC_IMAGE, "-f",
               os.path.join(HERE, "containers", "Containerfile.services"),
               os.path.join(HERE, "containers"), timeout=900)
    BUILT.append(True)


def agent_in_a_container(privileged):
    build_images()
    # (an agent that just exited leaves its programs for an RCU grace period)
    assert not wait_programs_gone(timeout=5), "programs of ours loaded: another agent runs"
    tag = "zs-test-%d" % os.getpid()
    names = []
    cert = Certificate()
    rec = Receiver()
    front = api = None
    sa = tempfile.mkdtemp(prefix="zs-sa-")
    ports = {k: free_port() for k in ("front", "mid", "leaf")}
    admin = free_port()
    try:
        def container(name, *args):
            names.append(name)
            podman("run", "-d", "--name", name, *LIMITS, *args)
            return podman("inspect", "-f", "{{.Id}}", name).stdout.strip()

        ids = {}
        ids["leaf"] = container(
            tag + "-leaf", "-v", SERVERS + ":/srv:ro", "-v", cert.dir + ":/certs:ro",
            "-e", "BIND=0.0.0.0", "-e", "TLS_CERT=/certs/cert.pem", "-e", "TLS_KEY=/certs/key.pem",
            SVC_IMAGE, "python3", "/srv/chain_server.py", str(ports["leaf"]), "leaf")
        ip = {"leaf": podman("inspect", "-f", "{{.NetworkSettings.IPAddress}}", tag + "-leaf").stdout.strip()}
        ids["mid"] = container(
            tag + "-mid", "-v", SERVERS + ":/srv:ro", "-e", "BIND=0.0.0.0", "-e", "OTEL_SERVICE_NAME=mid",
            SVC_IMAGE, "python3", "/srv/chain_server.py", str(ports["mid"]), "thread",
            "https://%s:%d/leaf" % (ip["leaf"], ports["leaf"]))
        ip["mid"] = podman("inspect", "-f", "{{.NetworkSettings.IPAddress}}", tag + "-mid").stdout.strip()
        wait_tcp(ip["leaf"], ports["leaf"])
        wait_tcp(ip["mid"], ports["mid"])

        # The API server knows container B as pod leaf-0 of StatefulSet "leaf".
        with open(os.path.join(sa, "token"), "w") as f:
            f.write("podman-test-token")
        shutil.copy(cert.cert, os.path.join(sa, "ca.crt"))
        api = FakeKubeAPI(cert.cert, cert.key, "podman-test-token")
        api.put(api.pod("0f0f0f0f-1111-2222-3333-444444444444", "leaf-0", "node-a",
                        [("leaf", "containerd://" + ids["leaf"])], owner=("StatefulSet", "leaf"),
                        labels={"app.kubernetes.io/name": "leaf-svc"}))

        # The agent: what deploy/kubernetes/zerospan.yaml gives it.
        caps = ",".join(sorted(available(documented())))
        privs = ["--privileged"] if privileged else ["--cap-drop=all", "--cap-add=" + caps]
        container(tag + "-agent", *privs, "--pid=host", "--network=host",
                  "--cgroupns=host", "-v", "/sys/kernel/tracing:/sys/kernel/tracing",
                  "-v", sa + ":/var/run/secrets/kubernetes.io/serviceaccount:ro",
                  "-e", "KUBERNETES_SERVICE_HOST=127.0.0.1", "-e", "KUBERNETES_SERVICE_PORT=%d" % api.port,
                  "-e", "NODE_NAME=node-a",
                  "-v", "/sys/kernel/btf:/sys/kernel/btf:ro", "-v", "/sys/fs/bpf:/sys/fs/bpf",
                  "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
                  "-e", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d" % rec.port,
                  "-e", "OTEL_BSP_SCHEDULE_DELAY=100", "-e", "OTEL_METRICS_EXPORTER=none",
                  AGENT_IMAGE, "--admin-addr=127.0.0.1:%d" % admin, "--print=none", "--stats-interval=0",
                  *["--port=%d" % p for p in ports.values()])
        deadline = time.time() + 30
        while True:
            try:
                if urllib.request.urlopen("http://127.0.0.1:%d/readyz" % admin, timeout=1).status == 200:
                    break
            except Exception:
                pass
            assert time.time() < deadline, podman("logs", tag + "-agent").stderr[-3000:]
            time.sleep(0.2)

        # A host service, started after the agent (its exec is seen from the container).
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env["OTEL_SERVICE_NAME"] = "front"
        front = subprocess.Popen([sys.executable, os.path.join(SERVERS, "chain_server.py"), str(ports["front"]),
                                  "thread", "http://%s:%d/chain" % (ip["mid"], ports["mid"])], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_tcp("127.0.0.1", ports["front"])
        time.sleep(2.5)  # the leaf's libssl is attached when its process is scanned (at start)
        r = run(["curl", "-sS", "http://127.0.0.1:%d/chain" % ports["front"]])
        assert r.returncode == 0 and r.stdout.startswith("leaf tp="), (r.stdout, r.stderr)
        spans = rec.wait(lambda s: True, 6, timeout=20)
        logs = podman("logs", tag + "-agent").stderr[-3000:]
        assert len(spans) == 6, dump(spans) + logs
        assert len({s["trace_id"] for s in spans}) == 1, dump(spans)
        by = {(s["resource"]["service.name"], s["kind"]): s for s in spans}
        mid_s = by[("mid", "SERVER")]
        assert mid_s["resource"]["container.id"] == ids["mid"], mid_s["resource"]
        assert mid_s["resource"]["container.runtime"] == "podman", mid_s["resource"]
        assert mid_s["resource"]["process.executable.path"].startswith("/usr/bin/python3"), mid_s["resource"]
        mid_pid = int(podman("inspect", "-f", "{{.State.Pid}}", tag + "-mid").stdout)
        assert mid_s["resource"]["zerospan.netns"] == os.stat("/proc/%d/ns/net" % mid_pid).st_ino, mid_s
        assert by[("front", "SERVER")]["resource"]["zerospan.netns"] == os.stat("/proc/self/ns/net").st_ino
        mid_c = by[("mid", "CLIENT")]
        assert mid_c["attrs"]["url.scheme"] == "https", mid_c["attrs"]
        leaf = [s for s in spans if s["resource"].get("container.id") == ids["leaf"]]
        assert len(leaf) == 1 and leaf[0]["kind"] == "SERVER", dump(spans)
        assert leaf[0]["attrs"]["url.scheme"] == "https" and leaf[0]["name"].startswith("GET"), leaf[0]
        res = leaf[0]["resource"]
        assert res["service.name"] == "leaf-svc" and res["k8s.pod.name"] == "leaf-0", res
        assert res["k8s.statefulset.name"] == "leaf" and res["k8s.node.name"] == "node-a", res
        assert "k8s.pod.name" not in mid_s["resource"], mid_s["resource"]  # not a pod the API knows
        for s in by[("front", "SERVER")], by[("front", "CLIENT")]:
            assert "container.id" not in s["resource"], s["resource"]  # the host
        # parent chain: curl -> front -> mid -> leaf
        parent = {s["span_id"]: s for s in spans}
        assert parent[leaf[0]["parent_span_id"]] is mid_c, dump(spans)
        assert parent[mid_c["parent_span_id"]] is mid_s, dump(spans)
        assert parent[mid_s["parent_span_id"]] is by[("front", "CLIENT")], dump(spans)

        m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin, timeout=5).read().decode()
        libs = [l for l in m.splitlines() if l.startswith("zerospan_tls_libraries ")]
        assert libs and float(libs[0].split()[1]) >= 2, libs  # the host's and the containers' own
        assert "in a container: also attaching the host's TLS libraries" in logs, logs
    finally:
        if front:
            front.terminate()
            front.wait(timeout=10)
        for n in reversed(names):
            # the agent gets SIGTERM and detaches; the services (python as pid 1
            # ignores SIGTERM) are removed at once
            if n.endswith("-agent"):
                run(["podman", "stop", "-t", "20", n], timeout=60)
            run(["podman", "rm", "-f", "-t", "0", n], timeout=60)
        rec.close()
        if api:
            api.stop()
        cert.remove()
        shutil.rmtree(sa, ignore_errors=True)
    left = wait_programs_gone()
    assert not left, "left behind: %s" % left


def test_agent_with_the_documented_capabilities():
    agent_in_a_container(privileged=False)


def test_agent_in_a_privileged_container():
    agent_in_a_container(privileged=True)


TESTS = [test_agent_with_the_documented_capabilities, test_agent_in_a_privileged_container]

if __name__ == "__main__":
    main(TESTS)
