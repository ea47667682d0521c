#!/usr/bin/python3
"""deploy/: the Kubernetes manifests and the systemd unit, checked for the
fields a DaemonSet of zerospan needs (parsed with Debian's python3-yaml),
their capabilities against docs/CAPABILITIES.md, and their agent flags
against what the agent accepts. No cluster runs here: this checks the
files, it does not apply them."""
import configparser
import os
import re
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from harness import AGENT, ROOT, main  # noqa: E402

DEPLOY = os.path.join(ROOT, "deploy")


def documented_caps():
    """Capabilities in docs/CAPABILITIES.md's table."""
    caps = set(re.findall(r"^\| `CAP_([A-Z_]+)`", open(os.path.join(ROOT, "docs", "CAPABILITIES.md")).read(), re.M))
    assert "BPF" in caps and "PERFMON" in caps, caps
    return caps


def agent_accepts(args):
    """Every --flag in args is one the agent knows (its --help lists it)."""
    helptext = subprocess.run([AGENT, "--help"], capture_output=True, text=True).stdout
    for a in args:
        flag = a.split("=")[0]
        assert flag in helptext, (flag, helptext)


def test_daemonset_manifest():
    docs = [d for d in yaml.safe_load_all(open(os.path.join(DEPLOY, "kubernetes", "zerospan.yaml"))) if d]
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"}, kinds
    ns = kinds["Namespace"]["metadata"]["name"]
    sa = kinds["ServiceAccount"]
    assert sa["metadata"]["namespace"] == ns
    rules = kinds["ClusterRole"]["rules"]
    assert rules == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}], rules
    binding = kinds["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == kinds["ClusterRole"]["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": ns}]

    ds = kinds["DaemonSet"]
    spec = ds["spec"]["template"]["spec"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    assert spec["hostPID"] is True and spec["serviceAccountName"] == sa["metadata"]["name"]
    (c,) = spec["containers"]
    sc = c["securityContext"]
    assert sc.get("privileged") is not True and sc["capabilities"]["drop"] == ["ALL"], sc
    assert set(sc["capabilities"]["add"]) == documented_caps(), (sc["capabilities"]["add"], documented_caps())
    agent_accepts(c["args"])
    admin = [a for a in c["args"] if a.startswith("--admin-addr=")]
    assert admin and admin[0].endswith(":%d" % c["ports"][0]["containerPort"]), (admin, c["ports"])
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for p in (c["readinessProbe"], c["livenessProbe"]):
        assert p["httpGet"]["port"] == c["ports"][0]["name"], p
    for k in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][k]), c["resources"]
    env = {e["name"]: e for e in c["env"]}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"].startswith("http"), env
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert {"/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/bpf", "/sys/fs/cgroup"} <= set(mounts), mounts
    vols = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"]}
    for path, name in mounts.items():
        assert vols[name] == path, (path, vols)


def test_systemd_unit():
    u = configparser.ConfigParser(strict=False, interpolation=None)
    u.optionxform = str
    u.read(os.path.join(DEPLOY, "systemd", "zerospan.service"))
    svc = u["Service"]
    argv = svc["ExecStart"].split()
    assert argv[0] == "/usr/local/bin/zerospan", argv
    agent_accepts(argv[1:])
    for key in ("CapabilityBoundingSet", "AmbientCapabilities"):
        caps = {c[len("CAP_"):] for c in svc[key].split()}
        assert caps == documented_caps(), (key, caps)
    assert svc["Restart"] == "on-failure" and u["Install"]["WantedBy"] == "multi-user.target"


def test_dockerfile():
    text = open(os.path.join(DEPLOY, "Dockerfile")).read()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.M)
    assert len(stages) == 2 and stages[0][1] == "build", stages
    assert "COPY --from=build /src/build/zerospan /usr/local/bin/zerospan" in text
    runtime = text.split("\nFROM ${BASE}\n", 1)[1]
    assert "clang" not in runtime and "-dev" not in runtime, "the runtime stage carries no toolchain"
    m = re.search(r'^CMD (\[.*\])$', text, re.M)
    agent_accepts(yaml.safe_load(m.group(1)))


TESTS = [test_daemonset_manifest, test_systemd_unit, test_dockerfile]

if __name__ == "__main__":
    main(TESTS)
