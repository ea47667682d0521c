"""Python http.client: N sequential GETs over one keep-alive connection
(HTTPS: the ssl module, certificate not checked). Prints each status.
usage: py_client.py URL N"""
import http.client
import ssl
import sys
import urllib.parse

u = urllib.parse.urlsplit(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1
if u.scheme == "https":
    ctx = ssl._create_unverified_context()
    ctx.set_alpn_protocols(["http/1.1"])
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
else:
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
for i in range(n):
    conn.request("GET", "%s/%d" % (u.path.rstrip("/"), i))
    r = conn.getresponse()
    r.read()
    print(r.status)
conn.close()
