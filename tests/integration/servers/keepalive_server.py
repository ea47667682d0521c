"""HTTP/1.1 keep-alive test server (ThreadingHTTPServer).
usage: keepalive_server.py PORT [HOST]
  GET /ok...        200 "ok\n"
  GET /status/N     status N
  GET /slow         200 after 100 ms
  GET /hang         200 after 60 s (to be killed mid-request)
  GET /big/N        200, N body bytes (Content-Length), headers and body in one write
  GET /chunked/N    200, one chunk of N bytes and the last chunk, all in one write
  POST /echo        echoes the body back
TLS_CERT and TLS_KEY in the environment: HTTPS.
"""
import http.server
import os
import socket
import ssl
import sys
import time


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write (flushed after each request), so
    # Nagle does not hold the body for the client's delayed ACK.
    wbufsize = 1 << 16

    def log_message(self, *a):
        pass

    def _reply(self, code, body=b"ok\n"):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/status/"):
            self._reply(int(self.path.split("/")[2]))
        elif self.path.startswith("/hang"):
            time.sleep(60)
            self._reply(200)
        elif self.path.startswith("/slow"):
            time.sleep(0.1)
            self._reply(200)
        elif self.path.startswith("/big/"):
            self._reply(200, b"b" * int(self.path.split("/")[2]))
        elif self.path.startswith("/chunked/"):
            n = int(self.path.split("/")[2])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (n, b"c" * n))
        else:
            self._reply(200)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self._reply(200, self.rfile.read(n))


class S(http.server.ThreadingHTTPServer):
    daemon_threads = True


host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
if ":" in host:
    S.address_family = socket.AF_INET6
srv = S((host, int(sys.argv[1])), H)
if os.environ.get("TLS_CERT"):
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])
    srv.socket = tls.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
