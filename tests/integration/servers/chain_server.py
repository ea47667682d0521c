"""One service of an uninstrumented chain: answers GET /chain by calling the
next service first. No tracing library: the agent must link the calls.
usage: chain_server.py PORT MODE [NEXT_URL]
  MODE thread  ThreadingHTTPServer; the handler thread calls NEXT_URL
  MODE pool    ThreadingHTTPServer; the handler hands the call to a
               ThreadPoolExecutor worker and waits for it
  MODE fork    ThreadingHTTPServer; the handler runs curl as a child process
  MODE leaf    answers at once: "leaf tp=N", N the traceparent headers it got;
               paths under /fail/ get a 500
TLS_CERT and TLS_KEY in the environment: serve HTTPS. An https NEXT_URL is
called without checking its certificate (the tests' are self-signed).
"""
import concurrent.futures
import http.server
import os
import ssl
import subprocess
import sys
import urllib.request

PORT, MODE = int(sys.argv[1]), sys.argv[2]
NEXT = sys.argv[3] if len(sys.argv) > 3 else None
POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4)


def call_next():
    ctx = ssl._create_unverified_context() if NEXT.startswith("https:") else None
    with urllib.request.urlopen(NEXT, timeout=10, context=ctx) as r:
        return r.read()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16

    def log_message(self, *a):
        pass

    def do_GET(self):
        # the leaf says how many traceparent headers reached it
        body = b"leaf tp=%d\n" % len(self.headers.get_all("traceparent") or [])
        if MODE == "thread":
            body = call_next()
        elif MODE == "pool":
            body = POOL.submit(call_next).result()
        elif MODE == "fork":
            # The child names itself (curl), not after this service.
            env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
            body = subprocess.run(["curl", "-sS", NEXT], capture_output=True, check=True, env=env).stdout
        self.send_response(500 if MODE == "leaf" and self.path.startswith("/fail/") else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer.allow_reuse_address = True
# BIND: the address to listen on (tests in network namespaces set it)
srv = http.server.ThreadingHTTPServer((os.environ.get("BIND", "127.0.0.1"), PORT), H)
if os.environ.get("TLS_CERT"):
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])
    tls.set_alpn_protocols(["http/1.1"])
    srv.socket = tls.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
