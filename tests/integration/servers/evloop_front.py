#!/usr/bin/env python3
"""An event-loop front (one thread) in a fixed order: it takes two clients'
requests A and B, and for each it connects to the back (non-blocking) right
after reading it, so that A's connection is made before B is read; then it
sends A's call and B's, and answers both. When A's call is sent, the thread
last read B: only the context kept at A's connect() tells them apart.
PREFIX (optional) goes before each call's path, so that method and path do
not pair a call with its request.
  evloop_front.py PORT BACK_PORT [PREFIX]"""
import select
import socket
import sys

port, back = int(sys.argv[1]), int(sys.argv[2])
prefix = sys.argv[3].encode() if len(sys.argv) > 3 else b""
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(16)


def read_head(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d:
            return None
        data += d
    return data


while True:
    pending = []
    while len(pending) < 2:
        c, _ = ls.accept()
        head = read_head(c)
        if head is None:  # a probe of the port
            c.close()
            continue
        up = socket.socket()
        up.setblocking(False)
        up.connect_ex(("127.0.0.1", back))
        pending.append((c, head.split(b" ")[1], up))
    for c, path, up in pending:
        select.select([], [up], [], 5)
        up.setblocking(True)
        up.sendall(b"GET " + prefix + path + b" HTTP/1.1\r\nHost: back\r\nConnection: close\r\n\r\n")
        while up.recv(65536):
            pass
        up.close()
        body = b"front " + path + b"\n"
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        c.close()
