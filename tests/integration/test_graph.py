#!/usr/bin/python3
"""Service graph and RED metrics from real traffic: a chain of three
uninstrumented services plus an erroring endpoint, checked on /metrics with
exact counts per edge and per series, and route collapsing keeping the
label sets bounded under 10,000 distinct ids."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, Proc, Receiver, dump, free_port, main, run, start_chain  # noqa: E402

PY = sys.executable
SERVERS = os.path.join(os.path.dirname(__file__), "servers")


def prom(agent):
    """Every sample line of /metrics, labels as written: {name{labels}: value}."""
    import urllib.request
    txt = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % agent.admin_port, timeout=5).read().decode()
    out = {}
    for line in txt.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def edge(name, client, server):
    return '%s{client="%s",server="%s"}' % (name, client, server)


def otlp_points(req):
    """{(service, metric): [(attrs, point)]} of one decoded ExportMetricsServiceRequest."""
    out = {}
    for rm in req.resource_metrics:
        svc = {kv.key: kv.value.string_value for kv in rm.resource.attributes}.get("service.name")
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                pts = m.histogram.data_points if m.HasField("histogram") else m.sum.data_points
                for pt in pts:
                    attrs = {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in pt.attributes}
                    out.setdefault((svc, m.name), []).append((attrs, pt, m))
    return out


def test_chain_edges_and_red_metrics():
    ports = [free_port() for _ in range(3)]
    rec = Receiver()
    agent = Agent(rec, ports=ports, env={"OTEL_METRIC_EXPORT_INTERVAL": "500"})
    procs = []
    try:
        procs = start_chain(ports)
        n, m = 7, 3
        for i in range(n):
            r = run(["curl", "-sS", "http://127.0.0.1:%d/chain/%d" % (ports[0], i)])
            assert r.returncode == 0, r.stderr
        for i in range(m):
            r = run(["curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:%d/fail/%d" % (ports[2], 1000 + i)])
            assert r.returncode == 0, r.stderr
        spans = rec.wait(lambda s: True, 6 * n + 2 * m, timeout=20)
        assert len(spans) == 6 * n + 2 * m, dump(spans)
        time.sleep(0.5)
        p = prom(agent)
        want = {("curl", "front"): (n, 0), ("front", "mid"): (n, 0), ("mid", "leaf"): (n, 0),
                ("curl", "leaf"): (m, m)}
        got = {k: v for k, v in p.items() if k.startswith("traces_service_graph_request_total")}
        assert len(got) == len(want), got
        for (c, s), (total, failed) in want.items():
            assert p.get(edge("traces_service_graph_request_total", c, s)) == total, (c, s, got)
            assert p.get(edge("traces_service_graph_request_failed_total", c, s)) == failed, (c, s)
            # both ends traced: the server's and the client's latency, once per request
            for side in ("server", "client"):
                k = 'traces_service_graph_request_%s_seconds_count{client="%s",server="%s"}' % (side, c, s)
                assert p.get(k) == total, (k, p.get(k))
                inf = 'traces_service_graph_request_%s_seconds_bucket{client="%s",server="%s",le="+Inf"}' % (side, c, s)
                assert p.get(inf) == total, inf
        red = 'http_server_request_duration_seconds_count{service_name="leaf",http_request_method="GET",' \
              'http_route="/fail/{id}",http_response_status_code="500",url_scheme="http"}'
        assert p.get(red) == m, [k for k in p if "leaf" in k and "server_request" in k]
        red = 'http_server_request_duration_seconds_count{service_name="front",http_request_method="GET",' \
              'http_route="/chain/{id}",http_response_status_code="200",url_scheme="http"}'
        assert p.get(red) == n, red
        red = 'http_client_request_duration_seconds_count{service_name="mid",http_request_method="GET",' \
              'server_address="127.0.0.1",server_port="%d",http_response_status_code="200",' \
              'url_scheme="http"}' % ports[2]
        assert p.get(red) == n, [k for k in p if "client_request" in k]

        # the same over OTLP, decoded with the official protos: cumulative, so
        # the latest request carries the totals
        deadline, pts = time.time() + 10, {}
        while time.time() < deadline:
            with rec.lock:
                last = rec.metrics[-1] if rec.metrics else None
            pts = otlp_points(last) if last else {}
            leaf = [x for x in pts.get(("leaf", "http.server.request.duration"), [])
                    if x[0].get("http.route") == "/fail/{id}"]
            if leaf and leaf[0][1].count == m and len(pts.get(("zerospan", "traces_service_graph_request_total"), [])) == 4:
                break
            time.sleep(0.2)
        assert not rec.errors, rec.errors
        leaf = [x for x in pts.get(("leaf", "http.server.request.duration"), []) if x[0].get("http.route") == "/fail/{id}"]
        assert len(leaf) == 1, pts.keys()
        attrs, pt, metric = leaf[0]
        assert metric.unit == "s" and metric.histogram.aggregation_temporality == 2, metric
        assert attrs == {"http.request.method": "GET", "http.response.status_code": 500, "url.scheme": "http",
                         "http.route": "/fail/{id}"}, attrs
        assert pt.count == m and sum(pt.bucket_counts) == m and 0 < pt.sum < 10, pt
        assert list(pt.explicit_bounds) == [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5,
                                            7.5, 10], pt.explicit_bounds
        trace_ids = {s["trace_id"] for s in spans}
        assert pt.exemplars and all(e.trace_id.hex() in trace_ids for e in pt.exemplars), pt.exemplars
        cli = pts.get(("mid", "http.client.request.duration"), [])
        assert len(cli) == 1 and cli[0][1].count == n, cli
        assert cli[0][0]["server.port"] == ports[2] and cli[0][0]["server.address"] == "127.0.0.1", cli[0][0]
        totals = {(a["client"], a["server"]): pt.as_int
                  for a, pt, _ in pts[("zerospan", "traces_service_graph_request_total")]}
        assert totals == {k: v[0] for k, v in want.items()}, totals
        failed = {(a["client"], a["server"]): pt.as_int
                  for a, pt, _ in pts[("zerospan", "traces_service_graph_request_failed_total")]}
        assert failed == {k: v[1] for k, v in want.items()}, failed
        srv_s = {(a["client"], a["server"]): pt.count
                 for a, pt, _ in pts[("zerospan", "traces_service_graph_request_server_seconds")]}
        assert srv_s == {k: v[0] for k, v in want.items()}, srv_s
        # /metrics in both formats, read by the Prometheus client's own parsers
        # (Debian's python3-prometheus-client): OpenMetrics with trace exemplars
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
        from prometheus_client.parser import text_string_to_metric_families as text_parse
        import urllib.request
        url = "http://127.0.0.1:%d/metrics" % agent.admin_port
        plain = urllib.request.urlopen(url, timeout=5).read().decode()
        assert len(list(text_parse(plain))) > 40
        r = urllib.request.urlopen(urllib.request.Request(url, headers={
            "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"}), timeout=5)
        assert r.headers["Content-Type"].startswith("application/openmetrics-text"), r.headers
        fams = {f.name: f for f in om_parse(r.read().decode())}
        assert fams["traces_service_graph_request"].type == "counter", fams.keys()
        hist = fams["http_server_request_duration_seconds"]
        ex = [x.exemplar for x in hist.samples if x.name.endswith("_bucket") and x.exemplar and
              x.labels.get("service_name") == "leaf" and x.labels.get("http_route") == "/fail/{id}"]
        assert ex and all(e.labels["trace_id"] in trace_ids for e in ex), ex
        assert all(len(e.labels["span_id"]) == 16 and 0 < e.value < 10 for e in ex), ex
        assert agent.metrics()["zerospan_metrics_exports_total"] >= 1
        assert agent.metrics()["zerospan_metrics_export_errors_total"] == 0
        agent.assert_no_loss()
    finally:
        for x in reversed(procs):
            x.stop()
        agent.stop()
        rec.close()


def test_routes_stay_bounded():
    """10,000 distinct ids make one route; distinct words beyond --max-routes
    share one overflow route, counted."""
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port], args=["--max-routes=5", "--route=/files/*"])
    srv = Proc([PY, os.path.join(SERVERS, "chain_server.py"), str(port), "leaf"],
               env={"OTEL_SERVICE_NAME": "leaf"}, wait_port=port)
    try:
        r = run([PY, os.path.join(SERVERS, "py_client.py"), "http://127.0.0.1:%d/item" % port, "10000"],
                timeout=300)
        assert r.returncode == 0, r.stderr[-500:]
        for path in ["/files/a/b.txt", "/files/c"] + ["/word%s" % c for c in "abcdefghij"]:
            r = run(["curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:%d%s" % (port, path)])
            assert r.returncode == 0, r.stderr
        spans = rec.wait(lambda s: s["kind"] == "SERVER", 10012, timeout=60)
        assert len(spans) == 10012, len(spans)
        names = {s["name"] for s in spans}
        # /item/{id}, /files/*, and 3 words fit in 5 routes; 7 words overflow
        assert names == {"GET /item/{id}", "GET /files/*", "GET /worda", "GET /wordb", "GET /wordc",
                         "GET /{overflow}"}, names
        p = prom(agent)
        routes = {k.split('http_route="')[1].split('"')[0] for k in p
                  if k.startswith("http_server_request_duration_seconds_count{")}
        assert routes == {"/item/{id}", "/files/*", "/worda", "/wordb", "/wordc", "/{overflow}"}, routes
        m = agent.metrics()
        assert m["zerospan_routes_overflow_total"] == 7, m
        assert len([k for k in p if k.startswith("http_server_request_duration_seconds_count")]) == 6
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_untraced_local_servers_named_by_their_listening_process():
    """Only curl is traced (--exe=curl): the servers it calls are named after
    the processes listening on their ports, one found at start-up
    (/proc/net/tcp), one that started listening later (LISTEN event)."""
    early, late = free_port(), free_port()
    rec = Receiver()
    srv_early = Proc([PY, os.path.join(SERVERS, "chain_server.py"), str(early), "leaf"],
                     env={"OTEL_SERVICE_NAME": "inventory"}, wait_port=early)
    agent = Agent(rec, args=["--exe=curl"])
    srv_late = None
    try:
        srv_late = Proc([PY, os.path.join(SERVERS, "chain_server.py"), str(late), "leaf"],
                        env={"OTEL_SERVICE_NAME": "billing"}, wait_port=late)
        for port in (early, late, early):
            assert run(["curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:%d/x" % port]).returncode == 0
        spans = rec.wait(lambda s: True, 3, timeout=15)
        time.sleep(0.5)
        spans = rec.wait(lambda s: True, 4, timeout=0)
        assert len(spans) == 3 and all(s["kind"] == "CLIENT" for s in spans), dump(spans)
        p = prom(agent)
        assert p.get(edge("traces_service_graph_request_total", "curl", "inventory")) == 2, \
            [k for k in p if k.startswith("traces_service_graph_request_total")]
        assert p.get(edge("traces_service_graph_request_total", "curl", "billing")) == 1
        # a port nobody listens on here: the address names it
        assert run(["curl", "-sS", "-o", "/dev/null", "--max-time", "2",
                    "http://127.0.0.1:%d/x" % free_port()]).returncode != 0
    finally:
        if srv_late:
            srv_late.stop()
        srv_early.stop()
        agent.stop()
        rec.close()


def test_untraced_servers_named_by_listeners_of_the_right_netns():
    """A host and a "pod" (a network namespace joined by veth, 10.232.0.1 and
    .2) each with a server on 0.0.0.0 and the same port, both listening
    before the agent started (as after a DaemonSet rollout), only curl
    traced. Each call names the server it reached: the start-up scan reads
    the listening sockets of every namespace (/proc/PID/net/tcp), and a
    wildcard listener is the one of the namespace that has the address
    called (/proc/PID/net/fib_trie). Before, the pod's listener was not
    known and every call was named after the host's server; and a call to
    the other side's address was named after the caller's own side."""
    tag = str(os.getpid() % 100000)
    ns, vh, vp = "zsl" + tag, "zlh" + tag, "zlp" + tag
    port = free_port()
    rec = Receiver()
    srvs, agent = [], None
    pod = ["ip", "netns", "exec", ns]

    def curl(prefix, addr):
        return run(prefix + ["curl", "-sS", "-o", "/dev/null", "--max-time", "2",
                             "http://%s:%d/x" % (addr, port)]).returncode

    try:
        for c in (["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "set", "lo", "up"],
                  ["ip", "link", "add", vh, "type", "veth", "peer", "name", vp],
                  ["ip", "link", "set", vp, "netns", ns],
                  ["ip", "addr", "add", "10.232.0.1/24", "dev", vh],
                  ["ip", "-n", ns, "addr", "add", "10.232.0.2/24", "dev", vp],
                  ["ip", "link", "set", vh, "up"], ["ip", "-n", ns, "link", "set", vp, "up"]):
            r = run(c)
            assert r.returncode == 0, (c, r.stderr)
        srvs.append(Proc([PY, os.path.join(SERVERS, "chain_server.py"), str(port), "leaf"],
                         env={"OTEL_SERVICE_NAME": "decoy", "BIND": "0.0.0.0"}, wait_port=port))
        srvs.append(Proc(pod + [PY, os.path.join(SERVERS, "chain_server.py"), str(port), "leaf"],
                         env={"OTEL_SERVICE_NAME": "ledger", "BIND": "0.0.0.0"}))
        deadline = time.time() + 15
        while curl(pod, "127.0.0.1") != 0:
            assert time.time() < deadline and srvs[1].p.poll() is None, "the pod's server did not start"
            time.sleep(0.2)
        agent = Agent(rec, args=["--exe=curl"])
        calls = [(pod, "127.0.0.1", "ledger"), ([], "127.0.0.1", "decoy"),
                 ([], "10.232.0.2", "ledger"), (pod, "10.232.0.1", "decoy"), (pod, "10.232.0.2", "ledger")]
        for prefix, addr, _ in calls:
            assert curl(prefix, addr) == 0, (prefix, addr)
        spans = rec.wait(lambda s: True, len(calls), timeout=15)
        time.sleep(0.5)
        spans = rec.wait(lambda s: True, len(calls) + 1, timeout=0)
        assert len(spans) == len(calls) and all(s["kind"] == "CLIENT" for s in spans), dump(spans)
        p = prom(agent)
        edges = {k: v for k, v in p.items() if k.startswith("traces_service_graph_request_total")}
        assert edges == {edge("traces_service_graph_request_total", "curl", "ledger"): 3,
                         edge("traces_service_graph_request_total", "curl", "decoy"): 2}, edges
    finally:
        if agent:
            agent.stop()
        for srv in srvs:
            srv.stop()
        run(["ip", "link", "del", vh])
        run(["ip", "netns", "del", ns])
        rec.close()


def test_bad_route_flag_is_a_clear_error():
    from harness import AGENT
    r = run([AGENT, "--route=users/{id}"])
    assert r.returncode == 2 and "must start with '/'" in r.stderr, (r.returncode, r.stderr)
    r = run([AGENT, "--max-routes=0"])
    assert r.returncode == 2 and "max-routes" in r.stderr, r.stderr


TESTS = [
    test_chain_edges_and_red_metrics,
    test_routes_stay_bounded,
    test_untraced_local_servers_named_by_their_listening_process,
    test_untraced_servers_named_by_listeners_of_the_right_netns,
    test_bad_route_flag_is_a_clear_error,
]

if __name__ == "__main__":
    main(TESTS)
