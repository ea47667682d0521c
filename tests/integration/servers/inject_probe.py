"""Keep-alive client that checks traceparent injection never breaks it.
usage: inject_probe.py PORT N [echo]
Sends N GET requests on ONE connection with plain send() (each must return
the full length the app asked for), reads each response by Content-Length
and checks it; every 500 requests waits for a response to arrive whole and
checks FIONREAD reports all of it. With "echo", also POSTs bodies that look
like HTTP requests (sent in their own send()) to /echo and checks they come
back byte for byte. Exits non-zero on the first problem."""
import fcntl
import socket
import struct
import sys
import termios
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
echo = len(sys.argv) > 3 and sys.argv[3] == "echo"
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buf = b""


def fail(msg):
    print("inject_probe: " + msg, flush=True)
    sys.exit(1)


def read_response():
    global buf
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            fail("connection closed by the server")
        buf += d
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    cl = [int(l.split(b":", 1)[1]) for l in lines[1:] if l.lower().startswith(b"content-length:")]
    if not cl:
        fail("response without Content-Length: %r" % head[:200])
    while len(buf) < cl[0]:
        d = s.recv(65536)
        if not d:
            fail("connection closed mid-body")
        buf += d
    body, buf = buf[:cl[0]], buf[cl[0]:]
    return status, body


def send_all_once(data):
    sent = s.send(data)
    if sent != len(data):
        fail("send() returned %d for %d bytes" % (sent, len(data)))


for i in range(n):
    req = b"GET /ok/%d HTTP/1.1\r\nHost: probe\r\nUser-Agent: inject-probe\r\n\r\n" % i
    send_all_once(req)
    if i % 500 == 0:
        # FIONREAD must count the response once it is in the receive queue;
        # a server slow to answer (the first request, on a loaded machine:
        # seen once after 50 ms, 0 bytes waiting) is waited for, up to 5 s
        deadline = time.time() + 5
        while True:
            time.sleep(0.05)
            avail = struct.unpack("i", fcntl.ioctl(s, termios.FIONREAD, b"\0\0\0\0"))[0]
            if avail > 0:
                break
            try:
                waiting = len(s.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT))
            except BlockingIOError:
                waiting = 0
            if waiting or time.time() > deadline:
                fail("request %d: FIONREAD says %d bytes, %d bytes waiting" % (i, avail, waiting))
        got = b""
        while len(got) < avail:
            got += s.recv(avail - len(got))
        buf += got
    status, body = read_response()
    if status != 200:
        fail("request %d: status %d" % (i, status))
    if buf:
        fail("bytes beyond the response: %r" % buf[:100])

if echo:
    for i in range(200):
        body = b"GET /not-a-request/%d HTTP/1.1\r\nHost: body\r\n\r\n" % i + b"x" * (i * 7)
        send_all_once(b"POST /echo HTTP/1.1\r\nHost: probe\r\nContent-Length: %d\r\n\r\n" % len(body))
        send_all_once(body)
        status, got = read_response()
        if status != 200 or got != body:
            fail("echo %d changed: %r" % (i, got[:120]))
print("inject_probe: ok %d" % n, flush=True)
