#!/usr/bin/python3
"""Integration tests: real servers and clients, real kernel hooks, the agent's
OTLP output decoded with the official protos. Each test starts its own agent
scoped to its own ports (--port), so tests do not see each other's traffic or
the receiver's."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import (AGENT, ROOT, Agent, Nginx, Proc, Receiver, by_kind, main,  # noqa: E402
                     check_span_sanity, dump, free_port, run, wait_programs_gone, zs_prog_ids)

PY = sys.executable
SERVERS = os.path.join(os.path.dirname(__file__), "servers")


def keepalive_server(port, host="127.0.0.1", env=None):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return Proc([PY, os.path.join(SERVERS, "keepalive_server.py"), str(port), host], env=env,
                wait_port=port, family=fam)


def path_is(p):
    return lambda s: s["attrs"].get("url.path") == p


# ---------------------------------------------------------------------------


def test_curl_to_python_http_server():
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    srv = Proc([PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=tempfile.gettempdir(),
               env={"OTEL_SERVICE_NAME": "files-svc"}, wait_port=port)
    try:
        for i in range(3):
            r = run(["curl", "-sS", "-o", "/dev/null", "-A", "zs-test/1.0",
                     "http://127.0.0.1:%d/nope/%d?secret=1" % (port, i)])
            assert r.returncode == 0, r.stderr
        spans = rec.wait(lambda s: s["attrs"].get("url.path", "").startswith("/nope/"), 6)
        assert len(spans) == 6, dump(spans)
        time.sleep(0.5)
        assert len(rec.wait(lambda s: True, 7, timeout=0.5)) == 6, "unexpected extra spans"
        for s in spans:
            check_span_sanity(s)
            a = s["attrs"]
            assert a["http.request.method"] == "GET", s
            # /nope/0, /nope/1, /nope/2: one route
            assert s["name"] == ("GET /nope/{id}" if s["kind"] == "SERVER" else "GET"), s
            assert a.get("http.route") == ("/nope/{id}" if s["kind"] == "SERVER" else None), a
            assert a["http.response.status_code"] == 404, a
            assert "url.query" not in a, "query must be dropped by default: %s" % a
            assert a["user_agent.original"] == "zs-test/1.0", a
            assert a["server.port"] == port, a
            assert a["network.peer.address"] == "127.0.0.1", a
        servers, clients = by_kind(spans, "SERVER"), by_kind(spans, "CLIENT")
        assert len(servers) == 3 and len(clients) == 3, dump(spans)
        for s in servers:
            assert s["resource"]["service.name"] == "files-svc", s["resource"]
            assert s["status"] == 0, "404 is not an error on a SERVER span"
            assert s["attrs"]["client.address"] == "127.0.0.1"
            assert "python" in s["resource"]["process.executable.name"]
            assert "process.command_line" not in s["resource"], "command lines may hold secrets"
        for c in clients:
            assert c["resource"]["service.name"] == "curl", c["resource"]
            assert c["status"] == 2 and c["attrs"]["error.type"] == "404", c
            assert c["attrs"]["url.full"].startswith("http://127.0.0.1:%d/nope/" % port), c["attrs"]
        # The client's span encloses the server's: same exchange seen from both ends.
        for s in servers:
            c = [c for c in clients if c["attrs"]["url.path"] == s["attrs"]["url.path"]][0]
            assert c["start"] <= s["start"] and c["end"] >= s["end"], (c, s)
        # OTLP compression: none by default (the OpenTelemetry default)
        assert all("Content-Encoding" not in s["headers"] for s in spans), spans[0]["headers"]
        agent.assert_no_loss()
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_short_lived_clients_named_from_their_environment():
    """Clients that live ~50 ms past their one request are named by their
    OTEL_SERVICE_NAME and executable: a process's first connection wakes the
    agent, which reads /proc/PID while the process still exists (otherwise
    it would drain up to 100 ms later and find it gone)."""
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    srv = Proc([PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=tempfile.gettempdir(),
               wait_port=port)
    client = ("import sys, time, urllib.request\n"
              "try:\n    urllib.request.urlopen(sys.argv[1]).read()\n"
              "except Exception:\n    pass\n"
              "time.sleep(0.05)")
    try:
        for i in range(6):
            r = run([PY, "-c", client, "http://127.0.0.1:%d/brief/%d" % (port, i)],
                    env=dict(os.environ, OTEL_SERVICE_NAME="brief-%d" % i))
            assert r.returncode == 0, r.stderr
        spans = rec.wait(lambda s: s["kind"] == "CLIENT" and
                         s["attrs"].get("url.path", "").startswith("/brief/"), 6)
        got = sorted((s["attrs"]["url.path"], s["resource"]["service.name"]) for s in spans)
        assert got == [("/brief/%d" % i, "brief-%d" % i) for i in range(6)], got
        for s in spans:
            assert "python" in s["resource"].get("process.executable.name", ""), s["resource"]
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_wrk_to_nginx_counts_every_request():
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port], env={"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"})
    ngx = Nginx(port)
    try:
        r = run(["wrk", "-t1", "-c2", "-d1s", "http://127.0.0.1:%d/index.html" % port])
        assert r.returncode == 0, r.stderr
        n = int(re.search(r"(\d+) requests in", r.stdout).group(1))
        assert n > 100, r.stdout
        servers = rec.wait(lambda s: s["kind"] == "SERVER", n, timeout=30)
        time.sleep(1)
        servers = rec.wait(lambda s: s["kind"] == "SERVER", n + 3, timeout=0.1)
        clients = rec.wait(lambda s: s["kind"] == "CLIENT", n, timeout=5)
        # wrk counts completed responses; up to one request per connection may
        # have been in flight when it stopped.
        assert n <= len(servers) <= n + 2, (n, len(servers))
        assert n <= len(clients) <= n + 2, (n, len(clients))
        for s in servers[:50]:
            check_span_sanity(s)
            assert s["attrs"]["url.path"] == "/index.html" and s["attrs"]["http.response.status_code"] == 200
            assert s["resource"]["process.executable.name"] == "nginx", s["resource"]
        assert all(s["headers"].get("Content-Encoding") == "gzip" for s in servers + clients)
        m = agent.assert_no_loss()
        assert m["zerospan_parse_errors_total"] == 0, m
    finally:
        ngx.stop()
        agent.stop()
        rec.close()


def test_nginx_sendfile_1mb_and_errors():
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    ngx = Nginx(port)
    try:
        r = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}",
                 "http://127.0.0.1:%d/big.bin" % port, "http://127.0.0.1:%d/status/x" % port])
        assert r.stdout.startswith(str(1 << 20)), r.stdout
        big = rec.wait(path_is("/big.bin"), 2)
        assert len(big) == 2, dump(big)
        err = rec.wait(path_is("/status/x"), 2)
        assert len(err) == 2, dump(err)
        for s in err:
            assert s["attrs"]["http.response.status_code"] == 503 and s["status"] == 2, s
            assert s["attrs"]["error.type"] == "503"
        # Both exchanges ran on one keep-alive connection: the 1 MiB body sent with
        # sendfile() was counted, so the next response was found and paired.
        sb = by_kind(big, "SERVER")[0]
        se = by_kind(err, "SERVER")[0]
        assert sb["end"] <= se["start"], "body end not found before the next request"
        agent.assert_no_loss()
    finally:
        ngx.stop()
        agent.stop()
        rec.close()


def test_long_reads_cut_in_the_peeked_bytes():
    """Responses far longer than the kernel's first read of a chunk (512
    bytes), headers and body in one write and one read: the kernel copies the
    headers only and reads the chunk's tail apart, which must still show a
    chunked body's last chunk. All on one keep-alive connection: a missed end
    would leave the next exchange unpaired."""
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    srv = keepalive_server(port)
    paths = ["/big/6000", "/chunked/6000", "/big/20000", "/chunked/20000", "/chunked/1500", "/ok/last"]
    try:
        cmd = ["curl", "-sS", "-w", "%{size_download} %{num_connects}\n"]
        for p in paths:
            cmd += ["-o", "/dev/null", "http://127.0.0.1:%d%s" % (port, p)]
        r = run(cmd)
        assert r.returncode == 0, r
        rows = [line.split() for line in r.stdout.splitlines()]
        assert [int(a) for a, _ in rows] == [6000, 6000, 20000, 20000, 1500, 3], r.stdout
        assert sum(int(c) for _, c in rows) == 1, "one connection: %s" % r.stdout
        spans = rec.wait(lambda s: s["attrs"].get("url.path") in paths, 2 * len(paths))
        for p in paths:
            got = [s for s in spans if s["attrs"]["url.path"] == p]
            assert sorted(s["kind"] for s in got) == ["CLIENT", "SERVER"], (p, dump(got))
            for s in got:
                check_span_sanity(s)
                assert s["attrs"]["http.response.status_code"] == 200, s
        agent.assert_no_loss()
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_node_server_and_client_chunked_keepalive():
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    srv = Proc(["node", os.path.join(SERVERS, "node_server.js"), str(port)], wait_port=port)
    try:
        r = run(["node", os.path.join(SERVERS, "node_client.js"), "http://127.0.0.1:%d/chunked" % port, "3"])
        assert r.returncode == 0 and "done 3" in r.stdout, r.stderr
        r = run(["node", os.path.join(SERVERS, "node_client.js"), "http://127.0.0.1:%d/json" % port, "5"])
        assert r.returncode == 0, r.stderr
        ch = rec.wait(path_is("/chunked"), 6)
        js = rec.wait(path_is("/json"), 10)
        assert len(ch) == 6 and len(js) == 10, (len(ch), len(js))
        for s in ch:
            check_span_sanity(s)
            assert s["resource"]["process.executable.name"] == "node", s["resource"]
            # The chunked body ends ~120 ms after it starts: the span must end
            # at the last chunk, not at the headers.
            assert s["end"] - s["start"] >= 100e6, (s["end"] - s["start"]) / 1e6
            assert s["attrs"]["http.response.status_code"] == 200
        for s in js:
            assert s["end"] - s["start"] < 100e6
        assert len(by_kind(ch, "SERVER")) == 3 and len(by_kind(ch, "CLIENT")) == 3
        agent.assert_no_loss()
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_keepalive_1000_requests_one_connection():
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    srv = keepalive_server(port)
    code = """
import http.client, sys
c = http.client.HTTPConnection('127.0.0.1', %d)
for i in range(1000):
    c.request('GET', '/ok/%%d' %% i)
    r = c.getresponse(); r.read()
    assert r.status == 200
print('ok')
""" % port
    try:
        r = run([PY, "-c", code])
        assert r.returncode == 0, r.stderr
        spans = rec.wait(lambda s: s["attrs"].get("url.path", "").startswith("/ok/"), 2000, timeout=30)
        assert len(spans) == 2000, len(spans)
        for kind in ("SERVER", "CLIENT"):
            paths = sorted(s["attrs"]["url.path"] for s in by_kind(spans, kind))
            assert paths == sorted("/ok/%d" % i for i in range(1000)), kind
        peers = {s["attrs"]["network.peer.port"] for s in by_kind(spans, "SERVER")}
        assert len(peers) == 1, "expected one connection, got %d" % len(peers)
        agent.assert_no_loss()
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_pipelined_requests():
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    ngx = Nginx(port)
    try:
        s = socket.create_connection(("127.0.0.1", port))
        reqs = b"".join(b"GET /index.html?p=%d HTTP/1.1\r\nHost: pipe\r\n\r\n" % i for i in range(5))
        s.sendall(reqs + b"GET /last HTTP/1.1\r\nHost: pipe\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        assert data.count(b"HTTP/1.1 200") == 5 and data.count(b"HTTP/1.1 404") == 1, data[:300]
        spans = rec.wait(lambda s: s["attrs"].get("server.address") == "pipe", 12)
        srv = by_kind(spans, "SERVER")
        cli = by_kind(spans, "CLIENT")
        assert len(srv) == 6 and len(cli) == 6, dump(spans)
        for group in (srv, cli):
            codes = sorted(s["attrs"]["http.response.status_code"] for s in group)
            assert codes == [200] * 5 + [404], codes
        agent.assert_no_loss()
    finally:
        ngx.stop()
        agent.stop()
        rec.close()


def test_headers_larger_than_8k():
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    srv = keepalive_server(port)
    try:
        hdrs = []
        for i in range(12):
            hdrs += ["-H", "X-Big-%d: %s" % (i, "v" * 1000)]
        r = run(["curl", "-sS", "-o", "/dev/null"] + hdrs + ["-A", "after-the-big-ones",
                                                               "http://127.0.0.1:%d/big-headers" % port])
        assert r.returncode == 0, r.stderr
        spans = rec.wait(path_is("/big-headers"), 2)
        assert len(spans) == 2, dump(spans)
        for s in spans:
            # user_agent comes after 12 KB of headers: the whole block was parsed
            assert s["attrs"]["user_agent.original"] == "after-the-big-ones", s["attrs"]
            assert s["attrs"]["http.response.status_code"] == 200
        agent.assert_no_loss()
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_every_read_and_write_syscall():
    """Requests and responses moved by read, readv, recvfrom, recvmsg and by
    write, writev, sendto, sendmsg (python's os and socket calls), both ends
    traced: each exchange is one SERVER and one CLIENT span, path and status
    right."""
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    srv = Proc([PY, os.path.join(SERVERS, "syscalls.py"), "server", str(port)], wait_port=port)
    try:
        r = run([PY, os.path.join(SERVERS, "syscalls.py"), "client", str(port)])
        assert r.returncode == 0, r.stderr
        spans = rec.wait(lambda s: s["attrs"].get("url.path", "").startswith("/v"), 8)
        assert len(spans) == 8, dump(spans)
        for k in range(4):
            mine = [s for s in spans if s["attrs"]["url.path"] == "/v%d" % k]
            assert sorted(s["kind"] for s in mine) == ["CLIENT", "SERVER"], dump(mine)
            for s in mine:
                check_span_sanity(s)
                assert s["attrs"]["http.request.method"] == "GET", s
                assert s["attrs"]["http.response.status_code"] == 200, s
                assert s["attrs"]["user_agent.original"] == "syscalls/1", s
        agent.assert_no_loss()
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_ipv6():
    port = free_port(socket.AF_INET6)
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    srv = keepalive_server(port, "::1")
    try:
        r = run(["curl", "-sS", "-g", "-o", "/dev/null", "http://[::1]:%d/v6" % port])
        assert r.returncode == 0, r.stderr
        spans = rec.wait(path_is("/v6"), 2)
        assert len(spans) == 2, dump(spans)
        for s in spans:
            check_span_sanity(s)
            assert s["attrs"]["network.peer.address"] == "::1", s["attrs"]
        c = by_kind(spans, "CLIENT")[0]
        assert c["attrs"]["server.address"] == "::1" and c["attrs"]["url.full"].startswith("http://[::1]:")
        agent.assert_no_loss()
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_request_one_byte_per_send():
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    srv = keepalive_server(port)
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        req = b"GET /bytewise?x=1 HTTP/1.1\r\nHost: b\r\nUser-Agent: slow-client\r\nConnection: close\r\n\r\n"
        for i in range(len(req)):
            s.send(req[i:i + 1])
            time.sleep(0.002)
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        s.close()
        assert data.startswith(b"HTTP/1.1 200"), data
        spans = rec.wait(path_is("/bytewise"), 2)
        assert len(spans) == 2, dump(spans)
        for sp in spans:
            assert sp["attrs"]["user_agent.original"] == "slow-client", sp["attrs"]
        agent.assert_no_loss()
    finally:
        srv.stop()
        agent.stop()
        rec.close()


RESET_SERVER = r"""
import socket, struct, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', int(sys.argv[1]))); l.listen(8)
while True:
    c, _ = l.accept()
    buf = b''
    while b'\r\n\r\n' not in buf:
        b = c.recv(4096)
        if not b: break
        buf += b
    if b'\r\n\r\n' not in buf:
        c.close(); continue
    c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + b'x' * 10)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    c.close()  # RST mid-body
"""


def test_reset_mid_response_is_an_error():
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    srv = Proc([PY, "-c", RESET_SERVER, str(port)], wait_port=port)
    try:
        r = run(["curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:%d/reset" % port])
        assert r.returncode != 0, "curl should fail on a reset"
        spans = rec.wait(path_is("/reset"), 2)
        assert len(spans) == 2, dump(spans)
        for s in spans:
            assert s["status"] == 2, s
            assert s["attrs"]["error.type"] in ("connection_reset", "connection_closed"), s["attrs"]
        c = by_kind(spans, "CLIENT")[0]
        assert c["attrs"]["error.type"] == "connection_reset", c["attrs"]
        agent.assert_no_loss()
    finally:
        srv.stop()
        agent.stop()
        rec.close()


BINARY_ECHO = r"""
import socket, sys, threading
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', int(sys.argv[1]))); l.listen(8)
def serve(c):
    while True:
        b = c.recv(65536)
        if not b: break
        c.sendall(b)
    c.close()
while True:
    c, _ = l.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def test_binary_traffic_makes_no_spans():
    port, hport = free_port(), free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port, hport])
    srv = Proc([PY, "-c", BINARY_ECHO, str(port)], wait_port=port)
    hsrv = keepalive_server(hport)
    try:
        s = socket.create_connection(("127.0.0.1", port))
        blob = bytes((i * 37 + 11) % 256 for i in range(100000))
        for i in range(50):
            s.sendall(blob[i * 2000:(i + 1) * 2000])
            got = b""
            while len(got) < 2000:
                got += s.recv(4096)
        # Text that happens to look like HTTP later in the stream must not
        # turn the connection into HTTP: it was judged at its first bytes.
        s.sendall(b"GET /not-http HTTP/1.1\r\n\r\n")
        s.recv(4096)
        s.close()
        r = run(["curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:%d/after-binary" % hport])
        assert r.returncode == 0
        assert len(rec.wait(path_is("/after-binary"), 2)) == 2
        spans = rec.wait(lambda s: s["attrs"].get("server.port") == port or s["attrs"].get("network.peer.port") == port, 1, timeout=1)
        assert spans == [], dump(spans)
        m = agent.assert_no_loss()
        assert m["zerospan_parse_errors_total"] == 0, m
    finally:
        srv.stop()
        hsrv.stop()
        agent.stop()
        rec.close()


PROXY_CLIENT = r"""
import socket, struct, sys, time
port, how = int(sys.argv[1]), sys.argv[2]
v1 = b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 %d\r\n" % port
addrs = socket.inet_aton("192.0.2.7") + socket.inet_aton("127.0.0.1") + struct.pack("!HH", 40001, port)
v2 = b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs)) + addrs
req = b"GET /proxied/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (how.encode(), port)
c = socket.create_connection(("127.0.0.1", port))
if how == "v1-alone":  # the header in a segment of its own, read apart
    c.sendall(v1)
    time.sleep(0.3)
    c.sendall(req)
else:
    c.sendall((v1 if how == "v1-with" else v2) + req)
got = b""
while True:
    d = c.recv(65536)
    if not d:
        break
    got += d
assert got.startswith(b"HTTP/1.1 200"), got
print("ok")
"""


def test_http_behind_a_proxy_protocol_header():
    """A load balancer (HAProxy, a cloud one) opens each connection with a
    PROXY protocol header: nginx with `listen ... proxy_protocol`. The
    connection is judged by the HTTP after the header: v1 (curl
    --haproxy-protocol, two requests on one connection; a raw client with
    the header and request in one write; one with the header in a segment
    of its own) and v2 (binary). SERVER spans in nginx, CLIENT spans in the
    clients; a SERVER span's client.address is the client the header names
    (network.peer.address stays the balancer). Before, these connections
    were let go as neither HTTP nor TLS: no spans at all."""
    port = free_port()
    rec = Receiver()
    agent = Agent(rec, ports=[port])
    ngx = Nginx(port, extra="location /proxied/ { return 200 \"ok\\n\"; }", listen="proxy_protocol")
    try:
        r = run(["curl", "-sS", "--haproxy-protocol", "http://127.0.0.1:%d/proxied/curl-a" % port,
                 "http://127.0.0.1:%d/proxied/curl-b" % port])
        assert r.returncode == 0 and r.stdout == "ok\nok\n", r
        hows = ["v1-with", "v1-alone", "v2"]
        for how in hows:
            r = run([PY, "-c", PROXY_CLIENT, str(port), how], timeout=30)
            assert r.returncode == 0 and "ok" in r.stdout, (how, r)
        paths = sorted(["/proxied/curl-a", "/proxied/curl-b"] + ["/proxied/" + h for h in hows])
        spans = rec.wait(lambda s: s["attrs"].get("url.path", "").startswith("/proxied/"), 2 * len(paths))
        time.sleep(0.5)
        spans = rec.wait(lambda s: True, 2 * len(paths) + 1, timeout=0.5)
        for kind in ("SERVER", "CLIENT"):
            got = sorted(s["attrs"]["url.path"] for s in by_kind(spans, kind))
            assert got == paths, (kind, got, dump(spans))
        for s in spans:
            check_span_sanity(s)
            assert s["attrs"]["http.response.status_code"] == 200, s
        # the load balancer's client, from the header; the peer is the balancer
        for s in by_kind(spans, "SERVER"):
            want = "127.0.0.1" if "curl" in s["attrs"]["url.path"] else "192.0.2.7"
            assert s["attrs"]["client.address"] == want, s
            assert s["attrs"]["network.peer.address"] == "127.0.0.1", s
        m = agent.assert_no_loss()
        assert m['zerospan_kernel_conns_let_go_total{reason="not_http_nor_tls"}'] == 0, m
    finally:
        ngx.stop()
        agent.stop()


def test_admin_endpoint_and_clean_exit():
    port = free_port()
    rec = Receiver()
    before = zs_prog_ids()
    agent = Agent(rec, ports=[port])
    try:
        base = "http://127.0.0.1:%d" % agent.admin_port
        assert urllib.request.urlopen(base + "/healthz").status == 200
        assert urllib.request.urlopen(base + "/readyz").status == 200
        body = urllib.request.urlopen(base + "/metrics").read().decode()
        for name in ("zerospan_events_received_total", "zerospan_spans_exported_total",
                     "zerospan_kernel_drops_total{cause=\"ringbuf_full\"", "zerospan_export_queue_depth",
                     "zerospan_connections_tracked", "zerospan_stream_gaps_total"):
            assert name in body, name
        ours = zs_prog_ids() - before
        assert len(ours) >= 15, ours
    finally:
        rc = agent.stop(signal.SIGTERM)
        rec.close()
    assert rc == 0, agent.stderr()
    assert "final:" in agent.stderr()
    # The kernel lets a program attached by a link go only after an RCU
    # grace period once the agent's fds are closed: 10-20 ms after the
    # agent's exit here, longer on a loaded machine (a clean-clone CI run
    # once saw them right after the exit). Waited for, as after SIGKILL.
    left = wait_programs_gone(ours, timeout=5)
    assert not left, "programs left 5 s after SIGTERM: %s" % [
        ln for ln in run(["bpftool", "prog", "show"]).stdout.splitlines()
        if ln.split(":")[0] in {str(p) for p in left}]


def test_sigkill_leaves_nothing_attached():
    port = free_port()
    before = zs_prog_ids()
    agent = Agent(None, ports=[port])
    ids = zs_prog_ids() - before
    assert len(ids) >= 15, "programs of the agent not found: %s" % ids
    agent.stop(signal.SIGKILL)
    left = wait_programs_gone(ids)
    assert not left, "programs still loaded after SIGKILL: %s" % left
    r = run(["bpftool", "link", "show", "--json"])
    links = [x for x in json.loads(r.stdout or "[]") if x.get("prog_id") in ids]
    assert not links, links


def test_bad_flags_and_env_give_clear_errors():
    cases = [
        (["--capture-size=12"], {}, "capture-size"),
        (["--port=70000"], {}, "port"),
        (["--print=yaml"], {}, "print"),
        (["--nope"], {}, "unknown option"),
        (["--tls=maybe"], {}, "--tls 'maybe': expected on or off"),
        (["--inject=1"], {}, "--inject '1': expected on, off or force"),
        (["--yield=yes"], {}, "--yield 'yes': expected on or off"),
        ([], {"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"}, "must start with http"),
        ([], {"OTEL_BSP_MAX_QUEUE_SIZE": "lots"}, "OTEL_BSP_MAX_QUEUE_SIZE"),
        ([], {"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, "gzip or none"),
        ([], {"OTEL_METRIC_EXPORT_INTERVAL": "5"}, "OTEL_METRIC_EXPORT_INTERVAL '5'"),
        ([], {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "udp://x"}, "metrics endpoint"),
        ([], {"ZEROSPAN_SEND_TIME": "later"}, "ZEROSPAN_SEND_TIME 'later': expected auto, syscalls or fentry"),
    ]
    for args, env, want in cases:
        e = dict(os.environ)
        e.update(env)
        r = subprocess.run([AGENT] + args, capture_output=True, text=True, env=e, timeout=10)
        assert r.returncode == 2, (args, env, r.returncode, r.stderr)
        assert want in r.stderr, (want, r.stderr)
    r = subprocess.run([AGENT, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--print" in r.stdout and "--tls=on|off" in r.stdout


def test_endpoint_down_then_back():
    """Spans made while the endpoint answers 503 are retried and arrive once."""
    port = free_port()
    rec = Receiver(status_plan=[503, 503])
    agent = Agent(rec, ports=[port])
    srv = keepalive_server(port)
    try:
        r = run(["curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:%d/retry-me" % port])
        assert r.returncode == 0
        spans = rec.wait(path_is("/retry-me"), 2, timeout=20)
        assert len(spans) == 2, dump(spans)
        time.sleep(0.5)
        assert len(rec.wait(path_is("/retry-me"), 3, timeout=0.2)) == 2, "duplicates"
        m = agent.metrics()
        assert m["zerospan_export_retries_total"] >= 2, m
        assert m["zerospan_spans_exported_total"] >= 2, m
        assert not rec.errors, rec.errors
    finally:
        srv.stop()
        agent.stop()
        rec.close()


def test_print_json_without_endpoint():
    port = free_port()
    agent = Agent(None, ports=[port])
    srv = keepalive_server(port)
    try:
        run(["curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:%d/printed" % port])
        deadline = time.time() + 10
        lines = []
        while time.time() < deadline:
            lines = [ln for ln in open(agent.out_path).read().splitlines() if "/printed" in ln]
            if len(lines) >= 2:
                break
            time.sleep(0.1)
        recs = [json.loads(ln) for ln in lines]
        assert sorted(r["kind"] for r in recs) == ["CLIENT", "SERVER"], lines
        for r in recs:
            assert r["status"] == 200 and r["method"] == "GET" and len(r["trace_id"]) == 32
    finally:
        srv.stop()
        agent.stop()


def test_recorded_records_replay():
    """ZEROSPAN_RECORD (a developer aid for scripts/bench-agent): the records
    land in a file only its owner reads, and the replay makes the same spans."""
    port = free_port()
    rec = "/tmp/zs-test-records-%d" % os.getpid()
    agent = Agent(None, ports=[port], env={"ZEROSPAN_RECORD": rec})
    srv = keepalive_server(port)
    try:
        for i in range(10):
            run(["curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:%d/rec%d" % (port, i)])
        deadline = time.time() + 10
        while time.time() < deadline:
            if open(agent.out_path).read().count("/rec") >= 20:
                break
            time.sleep(0.1)
        agent.stop()
        assert os.stat(rec).st_mode & 0o777 == 0o600, oct(os.stat(rec).st_mode)
        run(["make", "-s", "build/bench-agent"], cwd=ROOT)
        out = run([os.path.join(ROOT, "build", "bench-agent"), rec, "1"]).stdout
        m = re.search(r"(\d+) records, (\d+) spans a round", out)
        assert m and int(m.group(2)) == 20, out
    finally:
        srv.stop()
        agent.stop()
        if os.path.exists(rec):
            os.unlink(rec)


TESTS = [
    test_curl_to_python_http_server,
    test_short_lived_clients_named_from_their_environment,
    test_wrk_to_nginx_counts_every_request,
    test_nginx_sendfile_1mb_and_errors,
    test_long_reads_cut_in_the_peeked_bytes,
    test_node_server_and_client_chunked_keepalive,
    test_keepalive_1000_requests_one_connection,
    test_pipelined_requests,
    test_headers_larger_than_8k,
    test_every_read_and_write_syscall,
    test_ipv6,
    test_request_one_byte_per_send,
    test_reset_mid_response_is_an_error,
    test_binary_traffic_makes_no_spans,
    test_http_behind_a_proxy_protocol_header,
    test_admin_endpoint_and_clean_exit,
    test_sigkill_leaves_nothing_attached,
    test_bad_flags_and_env_give_clear_errors,
    test_endpoint_down_then_back,
    test_print_json_without_endpoint,
    test_recorded_records_replay,
]

if __name__ == "__main__":
    main(TESTS)
