"""HTTP/1.1 over every read and write syscall the agent traces.
usage: syscalls.py server PORT   (connection k reads its request with read
                                  variant k % 4 and answers with write variant k % 4)
       syscalls.py client PORT   (request k, on its own connection, written
                                  with write variant k % 4 and its response read
                                  with read variant (k + 1) % 4; path /v<k>)
Read variants: read, readv, recv_into (recvfrom), recvmsg_into (recvmsg).
Write variants: write, writev, send (sendto), sendmsg."""
import os
import socket
import sys

READS = ["read", "readv", "recvfrom", "recvmsg"]
WRITES = ["write", "writev", "sendto", "sendmsg"]


def read_some(s, how):
    buf = bytearray(4096)
    if how == "read":
        return os.read(s.fileno(), 4096)
    if how == "readv":
        a, b = bytearray(16), bytearray(4080)
        n = os.readv(s.fileno(), [a, b])
        return bytes((a + b)[:n])
    if how == "recvfrom":
        n = s.recv_into(buf)
        return bytes(buf[:n])
    n = s.recvmsg_into([buf])[0]
    return bytes(buf[:n])


def write_all(s, how, data):
    if how == "write":
        assert os.write(s.fileno(), data) == len(data)
    elif how == "writev":
        assert os.writev(s.fileno(), [data[:10], data[10:]]) == len(data)
    elif how == "sendto":
        assert s.send(data) == len(data)
    else:
        assert s.sendmsg([data[:7], data[7:]]) == len(data)


def read_message(s, how):
    """One message: the header block, then Content-Length bytes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = read_some(s, how)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    want = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            want = int(v)
    while len(body) < want:
        body += read_some(s, how)
    return head


def server(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    k = 0
    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = read_message(c, READS[k % 4])
        if not head:  # a readiness probe: connected, sent nothing
            c.close()
            continue
        path = head.split(b" ")[1]
        body = b"via " + WRITES[k % 4].encode() + b" " + path + b"\n"
        write_all(c, WRITES[k % 4], b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n%s" % (len(body), body))
        c.close()
        k += 1


def client(port):
    for k in range(4):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        write_all(s, WRITES[k % 4], b"GET /v%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                  b"User-Agent: syscalls/1\r\n\r\n" % (k, port))
        head = read_message(s, READS[(k + 1) % 4])
        assert head.startswith(b"HTTP/1.1 200"), head
        s.close()


if __name__ == "__main__":
    (server if sys.argv[1] == "server" else client)(int(sys.argv[2]))
