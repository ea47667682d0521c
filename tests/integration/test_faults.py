#!/usr/bin/python3
"""Faults and hostile traffic: the agent keeps tracing, keeps its memory in
bounds, counts every span it could not deliver, never sends one twice, and
the traced apps never notice. Real servers, clients and OTLP decoding; the
faulty OTLP endpoint is the harness's Receiver told to refuse, stall or
throttle."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Agent, Nginx, Receiver, dump, free_port, is_child, main, request_pairs,  # noqa: E402
                     rss_kib, run, thread_policies, wait_programs_gone)
from test_http import keepalive_server, path_is  # noqa: E402

PY = sys.executable


def settled(agent, spans, timeout=60):
    """Waits until the agent has made the spans and every one is accounted
    for: exported, dropped (queue full, retries out) or unconfirmed. Returns
    the metrics."""
    deadline = time.time() + timeout
    while True:
        m = agent.metrics()
        done = (m["zerospan_spans_exported_total"] + m["zerospan_spans_dropped_queue_full_total"]
                + m["zerospan_spans_dropped_export_failed_total"]
                + m["zerospan_spans_export_unconfirmed_total"] + m["zerospan_spans_unsampled_total"])
        if m["zerospan_spans_created_total"] == spans == done and m["zerospan_export_queue_depth"] == 0:
            return m
        assert time.time() < deadline, "spans unaccounted for: %s" % m
        time.sleep(0.2)


def unique(spans):
    ids = [s["span_id"] for s in spans]
    assert len(ids) == len(set(ids)), "a span arrived twice"
    return len(ids)


def curl_many(port, n, prefix="/ok"):
    """n requests on one keep-alive connection (curl's URL globbing)."""
    r = run(["curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:%d%s[1-%d]" % (port, prefix, n)],
            timeout=120)
    assert r.returncode == 0, r.stderr


def test_endpoint_down_then_back_every_span_accounted_for():
    """Endpoint refusing connections for seconds with a small queue: the
    overflow is counted, the rest arrives once when it is back."""
    port, rport = free_port(), free_port()
    srv = keepalive_server(port)
    agent = Agent(None, ports=[port], env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % rport, "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BSP_MAX_QUEUE_SIZE": "200", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "50"})
    rec = None
    try:
        curl_many(port, 600)
        time.sleep(3)
        m = agent.metrics()
        assert m["zerospan_spans_created_total"] == 1200, m
        assert m["zerospan_spans_dropped_queue_full_total"] > 0, m
        assert m["zerospan_export_queue_depth"] <= 200, m
        # a failing endpoint never holds the event loop: at most one wait,
        # before its first refusal
        assert m["zerospan_export_queue_waits_total"] <= 1, m
        rec = Receiver(port=rport)
        m = settled(agent, 1200)
        got = unique(rec.spans)
        assert got == m["zerospan_spans_exported_total"] > 0, (got, m)
        assert got + m["zerospan_spans_dropped_queue_full_total"] + \
            m["zerospan_spans_dropped_export_failed_total"] == 1200, m
        assert m["zerospan_export_errors_total"] >= 1 and m["zerospan_export_retries_total"] >= 1, m
        # tracing went on while the endpoint was away, and goes on now
        curl_many(port, 10, "/after")
        assert len(rec.wait(lambda s: s["attrs"].get("url.path", "").startswith("/after"), 20)) == 20
    finally:
        srv.stop()
        agent.stop()
        if rec:
            rec.close()


def test_burst_beyond_the_queue_waits_for_a_live_endpoint():
    """A burst far beyond a small queue (50 spans, batches of 10) while the
    endpoint answers: the event loop waits for the exporter to make room
    (the kernel's ring holds the records meanwhile) instead of dropping, so
    every span arrives, once; the waits are counted. (Without the wait 960
    of the 1,200 spans dropped.)"""
    port = free_port()
    rec = Receiver()
    srv = keepalive_server(port)
    agent = Agent(rec, ports=[port], env={
        "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BSP_MAX_QUEUE_SIZE": "50",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10"})
    try:
        curl_many(port, 600)
        m = settled(agent, 1200)
        assert m["zerospan_export_queue_waits_total"] > 0, m
        assert m["zerospan_spans_dropped_queue_full_total"] == 0, m
        assert unique(rec.wait(lambda s: True, 1200, timeout=30)) == 1200
        agent.assert_no_loss()
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_throttled_and_slow_endpoint():
    """429 and 503 with Retry-After, every answer 1.5 s late: all spans
    arrive, once."""
    port = free_port()
    rec = Receiver(status_plan=[429, 429, 503], delay=1.5)
    srv = keepalive_server(port)
    agent = Agent(rec, ports=[port])
    try:
        curl_many(port, 50)
        m = settled(agent, 100)
        assert unique(rec.spans) == 100 == m["zerospan_spans_exported_total"], (len(rec.spans), m)
        assert m["zerospan_export_retries_total"] >= 3, m
        assert m["zerospan_spans_dropped_export_failed_total"] == 0, m
        assert not rec.errors, rec.errors
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_batch_over_a_mebibyte_goes_without_expect():
    """A batch of large spans (2,000 spans of ~1 KB: 500-byte paths, long
    user agents) is one request of over 1 MiB, where curl would add
    "Expect: 100-continue" and wait for the endpoint's go-ahead (a second's
    stall behind one that never gives it): sent without it."""
    port = free_port()
    rec = Receiver()
    srv = keepalive_server(port)
    agent = Agent(rec, ports=[port], env={
        "OTEL_BSP_SCHEDULE_DELAY": "5000", "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4096"})
    try:
        r = run(["curl", "-sS", "-o", "/dev/null", "-A", "agent/" + "u" * 240,
                 "http://127.0.0.1:%d/%s[1-1000]" % (port, "p" * 500)], timeout=120)
        assert r.returncode == 0, r.stderr
        spans = rec.wait(lambda s: True, 2000, timeout=30)
        assert unique(spans) == 2000
        sizes = {int(s["headers"].get("Content-Length", 0)) for s in spans}
        assert max(sizes) > 1 << 20, "no request over 1 MiB: %s" % sorted(sizes)
        expect = [s["headers"]["Expect"] for s in spans if "Expect" in s["headers"]]
        assert not expect, "Expect sent: %s" % expect[:1]
        agent.assert_no_loss()
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_endpoint_slower_than_the_timeout_gets_nothing_twice():
    """An endpoint that answers after the export timeout may still have
    taken the spans: they are counted as unconfirmed, not resent."""
    port = free_port()
    rec = Receiver(delay=2.5)
    srv = keepalive_server(port)
    agent = Agent(rec, ports=[port], env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1000"})
    try:
        curl_many(port, 10)
        m = settled(agent, 20, timeout=90)
        time.sleep(3)  # the receiver finishes the requests the agent gave up on
        assert unique(rec.spans) == 20, dump(rec.spans)
        assert m["zerospan_spans_export_unconfirmed_total"] == 20, m
        assert m["zerospan_spans_exported_total"] == 0, m
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_server_killed_mid_request():
    """The traced server dies holding a request: the client's span ends in
    error, the connection is forgotten, the agent goes on."""
    port = free_port()
    rec = Receiver()
    srv = keepalive_server(port)
    agent = Agent(rec, ports=[port])
    try:
        curl = subprocess.Popen(["curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:%d/hang" % port],
                                stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while agent.metrics().get("zerospan_connections_tracked", 0) < 2 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        srv.p.send_signal(signal.SIGKILL)
        srv.p.wait()
        assert curl.wait(timeout=10) != 0
        spans = rec.wait(path_is("/hang"), 1, timeout=15)
        assert len(spans) >= 1, dump(rec.spans)
        client = [s for s in spans if s["kind"] == "CLIENT"]
        assert client and client[0]["status"] == 2 and client[0]["attrs"].get("error.type"), dump(spans)
        deadline = time.time() + 10
        while agent.metrics()["zerospan_connections_tracked"] > 0 and time.time() < deadline:
            time.sleep(0.1)
        assert agent.metrics()["zerospan_connections_tracked"] == 0
        # a new server on the same port (pid and port reused) is traced afresh
        srv = keepalive_server(port)
        curl_many(port, 3, "/again")
        assert len(rec.wait(lambda s: s["attrs"].get("url.path", "").startswith("/again"), 6)) == 6
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def wait_policies(pid, want, timeout):
    deadline = time.time() + timeout
    while True:
        got = thread_policies(pid)
        if all(got.get(k) == v for k, v in want.items()) or time.time() > deadline:
            return got
        time.sleep(0.1)


def test_cpu_saturated_agent_yields_then_keeps_up():
    """--yield=on: the agent's event loop and exporter run as
    SCHED_IDLE while the machine has CPU to spare. Busy loops on every CPU
    starve them: their backlog grows (a 1 MiB ring; 1,500 exchanges, 3,000
    records, would overflow it), the watchdog moves both to normal
    scheduling, and every span is exported, none lost. With the CPUs free again they go back to
    SCHED_IDLE. Without --yield=on (the default) they are normal."""
    port = free_port()
    rec = Receiver()
    srv = keepalive_server(port)
    agent = Agent(rec, ports=[port], args=["--ringbuf-mb=1", "--yield=on"])
    busy = []
    try:
        idle = {"main": 5, "zs-export": 5, "zs-yield": 0}
        got = wait_policies(agent.proc.pid, idle, 5)
        assert all(got.get(k) == v for k, v in idle.items()), got
        assert agent.metrics()["zerospan_agent_promotions_total"] == 0
        busy = [subprocess.Popen([PY, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
        time.sleep(0.5)
        curl_many(port, 1500)
        deadline = time.time() + 30
        while agent.metrics()["zerospan_agent_promotions_total"] < 1 and time.time() < deadline:
            time.sleep(0.2)
        m = agent.metrics()
        assert m["zerospan_agent_promotions_total"] >= 1, m
        got = thread_policies(agent.proc.pid)
        assert got["main"] == 0 and got["zs-export"] == 0, "no CPU idle: they stay normal %s" % got
        settled(agent, 3000)
        agent.assert_no_loss()
        assert unique(rec.wait(lambda s: True, 3000, timeout=30)) == 3000
        for p in busy:
            p.kill()
            p.wait()
        busy = []
        got = wait_policies(agent.proc.pid, {"main": 5, "zs-export": 5}, 15)
        assert got["main"] == 5 and got["zs-export"] == 5, "CPU to spare again: %s" % got
        agent.stop()
        agent = Agent(rec, ports=[port])
        got = thread_policies(agent.proc.pid)
        assert got["main"] == 0 and got["zs-export"] == 0 and "zs-yield" not in got, got
    finally:
        for p in busy:
            p.kill()
            p.wait()
        srv.stop()
        agent.stop()
        rec.close()


def test_agent_killed_and_restarted_under_load():
    """SIGKILL the agent while a client sends a request every 20 ms on one
    keep-alive connection: the client sees no error, nothing of ours stays
    attached, and a new agent traces that same, already open, connection,
    each request's SERVER span under its CLIENT span."""
    port = free_port()
    srv = keepalive_server(port)
    rec1, rec2 = Receiver(), Receiver()
    errors, stop = [], threading.Event()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.connect()
    sock0 = conn.sock

    def client():
        i = 0
        while not stop.is_set():
            i += 1
            try:
                conn.request("GET", "/tick/%d" % i)
                r = conn.getresponse()
                r.read()
                if r.status != 200 or conn.sock is not sock0:
                    errors.append("status %d / reconnected" % r.status)
            except Exception as e:
                errors.append(repr(e))
            time.sleep(0.02)

    t = threading.Thread(target=client)
    t.start()
    agent2 = None
    agent1 = Agent(rec1, ports=[port])
    try:
        assert len(rec1.wait(lambda s: s["kind"] == "SERVER", 10, timeout=15)) >= 10
        agent1.stop(signal.SIGKILL)
        left = wait_programs_gone()
        assert not left, "left attached: %s" % left
        time.sleep(0.5)
        agent2 = Agent(rec2, ports=[port])
        spans = rec2.wait(lambda s: s["attrs"].get("url.path", "").startswith("/tick/"), 20, timeout=20)
        kinds = {s["kind"] for s in spans}
        assert kinds == {"SERVER", "CLIENT"}, dump(spans)
        local = sock0.getsockname()[1]
        assert any(s["kind"] == "CLIENT" and s["attrs"].get("client.port", local) == local for s in spans)
        # and in one trace: the connection, open before the new agent, is
        # enrolled for injection at its start (before 2026-12-03 (night)
        # each SERVER span was a root from then on)
        pairs = request_pairs(spans)
        assert len(pairs) >= 5 and all(is_child(sv, cl) for cl, sv in pairs), dump(spans)
        stop.set()
        t.join()
        assert not errors, errors[:5]
        agent2.assert_no_loss()
    finally:
        stop.set()
        t.join()
        conn.close()
        srv.stop()
        agent1.stop()
        if agent2:
            agent2.stop()
        rec1.close()
        rec2.close()


def test_memory_bounded_under_churn_idle_slowloris_and_huge_headers():
    """100,000 short connections, 600 idle ones, 200 slowloris senders
    and 64 KiB headers against nginx: the tables stay within their bounds,
    the agent's RSS grows by less than 32 MiB, nginx answers throughout."""
    port = free_port()
    rec = Receiver()
    ng = Nginx(port, extra="keepalive_timeout 120s; client_header_timeout 120s;")
    agent = Agent(rec, ports=[port], args=["--max-conns=2000"],
                  env={"OTEL_BSP_MAX_QUEUE_SIZE": "4096"})
    held = []
    try:
        curl_many(port, 200, "/")
        time.sleep(1)
        rss0 = rss_kib(agent.proc.pid)
        total, deadline = 0, time.time() + 90
        while total < 100000 and time.time() < deadline:
            r = run(["wrk", "-t2", "-c50", "-d3s", "-H", "Connection: close", "http://127.0.0.1:%d/" % port],
                    timeout=30)
            assert r.returncode == 0, r.stderr
            line = [ln for ln in r.stdout.splitlines() if "requests in" in ln][0]
            total += int(line.split()[0])
            assert "Non-2xx" not in r.stdout and "Socket errors" not in r.stdout, r.stdout
        assert total >= 100000, "only %d connections in 90 s" % total
        m = agent.metrics()
        assert m["zerospan_connections_tracked"] <= 2000, m
        for _ in range(600):  # idle keep-alive connections, one request each
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(65536)
            held.append(s)
        for i in range(200):  # slowloris: headers that never end
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 6000)
            held.append(s)
        for i in range(20):  # 64 KiB of headers: nginx refuses, the agent counts
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /huge HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 65536 + b"\r\n\r\n")
            s.recv(65536)
            s.close()
        time.sleep(2)
        m = agent.metrics()
        assert m["zerospan_connections_tracked"] <= 2000, m
        assert m["zerospan_header_hold_bytes"] <= 16 << 20, m
        grown = rss_kib(agent.proc.pid) - rss0
        assert grown < 32 * 1024, "RSS grew by %d KiB: %s" % (grown, m)
        r = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:%d/" % port])
        assert r.stdout == "200", r.stdout
        assert agent.proc.poll() is None
        print("  churn: %d connections, RSS %d -> %d KiB, conns tracked %d, evicted %d, hold %d B"
              % (total, rss0, rss0 + grown, m["zerospan_connections_tracked"],
                 m.get("zerospan_conns_evicted_total", 0), m["zerospan_header_hold_bytes"]))
    finally:
        for s in held:
            s.close()
        ng.stop()
        agent.stop()
        rec.close()


def test_sensitive_values_never_leave_the_agent():
    """Authorization, Cookie and Set-Cookie values, query strings and bodies
    appear nowhere: not in the OTLP export, not on stdout, not in the live
    view's API."""
    port, eport = free_port(), free_port()
    rec = Receiver()
    ng = Nginx(port, extra='add_header Set-Cookie "sid=SECRET5-cookie";')
    srv = keepalive_server(eport)
    agent = Agent(rec, ports=[port, eport])
    try:
        r = run(["curl", "-sS", "-o", "/dev/null", "-H", "Authorization: Bearer SECRET1-token",
                 "-H", "Cookie: session=SECRET2-cookie", "http://127.0.0.1:%d/?token=SECRET3-query" % port])
        assert r.returncode == 0, r.stderr
        r = run(["curl", "-sS", "-o", "/dev/null", "--data-binary", "password=SECRET4-body",
                 "http://127.0.0.1:%d/echo" % eport])
        assert r.returncode == 0, r.stderr
        spans = rec.wait(lambda s: True, 4, timeout=15)
        assert len(spans) == 4, dump(spans)
        assert any(s["attrs"].get("http.request.method") == "POST" for s in spans), dump(spans)
        view = urllib.request.urlopen("http://127.0.0.1:%d/api/traces" % agent.admin_port, timeout=5).read()
        agent.stop()
        texts = [json.dumps(spans), view.decode(), agent.last_stdout]
        assert "/echo" in agent.last_stdout, agent.last_stdout[:2000]  # --print=json wrote the spans
        for t in texts:
            assert "SECRET" not in t, t[:3000]
        # asked for, the command line and the query are exported. The client
        # stays alive a moment: the agent reads /proc/PID/cmdline when it
        # handles the connection (woken by it, a moment later), and curl can
        # be gone by then (docs/LIMITATIONS.md)
        rec.spans.clear()
        agent = Agent(rec, ports=[port], args=["--keep-cmdline", "--keep-query"])
        client = ("import sys, time, urllib.request; urllib.request.urlopen(sys.argv[1]).read(); "
                  "time.sleep(1)")
        r = run([PY, "-c", client, "http://127.0.0.1:%d/?q=SECRET3-query" % port])
        assert r.returncode == 0, r.stderr
        spans = rec.wait(lambda s: s["kind"] == "CLIENT", 1, timeout=15)
        assert "SECRET3-query" in spans[0]["resource"]["process.command_line"], spans[0]["resource"]
        assert spans[0]["attrs"]["url.query"] == "q=SECRET3-query", spans[0]["attrs"]
    finally:
        srv.stop()
        ng.stop()
        agent.stop()
        rec.close()


TESTS = [test_sensitive_values_never_leave_the_agent, test_endpoint_down_then_back_every_span_accounted_for,
         test_burst_beyond_the_queue_waits_for_a_live_endpoint, test_batch_over_a_mebibyte_goes_without_expect,
         test_throttled_and_slow_endpoint,
         test_endpoint_slower_than_the_timeout_gets_nothing_twice, test_server_killed_mid_request,
         test_agent_killed_and_restarted_under_load, test_cpu_saturated_agent_yields_then_keeps_up,
         test_memory_bounded_under_churn_idle_slowloris_and_huge_headers]

if __name__ == "__main__":
    main(TESTS)
