"""A hand-built Kubernetes API server on loopback, for the one thing this
machine cannot have: a cluster. It serves what zerospan uses of the real one,
as the real one does it (HTTPS, bearer token, JSON):

  GET /api/v1/pods?fieldSelector=spec.nodeName=N&limit=L[&continue=C]
      a PodList of the pods on node N, paged, with metadata.resourceVersion
  GET /api/v1/pods?fieldSelector=...&watch=1&resourceVersion=RV
      &allowWatchBookmarks=true&timeoutSeconds=T
      one JSON watch event per line (ADDED/MODIFIED/DELETED/BOOKMARK) for
      changes after RV, held open until T; an ERROR event with code 410 when
      RV is older than the events it keeps (compact()).

The test drives it: add/modify/delete pods, stop() and start() it again on
the same port (an API server restart), and reads `requests` to see how the
agent talks to it."""
import copy
import http.server
import json
import socketserver
import ssl
import threading
import time
import urllib.parse


class FakeKubeAPI:
    def __init__(self, cert, key, token, port=0):
        self.cert, self.key, self.token = cert, key, token
        self.lock = threading.Condition()
        self.pods = {}      # uid -> pod object
        self.events = []    # (rv, type, pod)
        self.rv = 1000
        self.oldest_rv = 0  # watches from before this get 410
        self.requests = []  # (time, path, authorized)
        self.port = port
        self.server = None
        self.start()

    # --- the test's side ---
    def pod(self, uid, name, node, containers, owner=None, labels=None, env=None, namespace="shop"):
        """containers: [(name, runtime_id or None)]; owner: (kind, name)."""
        md = {"name": name, "namespace": namespace, "uid": uid, "labels": dict(labels or {})}
        if owner:
            md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                      "uid": "owner-" + uid, "controller": True}]
        spec = {"nodeName": node, "containers": [
            {"name": c, "image": "example/%s:1" % c,
             "env": [{"name": k, "value": v} for k, v in (env or {}).get(c, {}).items()]}
            for c, _ in containers]}
        status = {"phase": "Running", "containerStatuses": [
            dict({"name": c, "ready": bool(cid)}, **({"containerID": cid} if cid else {}))
            for c, cid in containers]}
        return {"kind": "Pod", "apiVersion": "v1", "metadata": md, "spec": spec, "status": status}

    def put(self, pod, kind="ADDED"):
        with self.lock:
            self.rv += 1
            pod = copy.deepcopy(pod)
            pod["metadata"]["resourceVersion"] = str(self.rv)
            uid = pod["metadata"]["uid"]
            if kind == "DELETED":
                self.pods.pop(uid, None)
            else:
                self.pods[uid] = pod
            self.events.append((self.rv, kind, pod))
            self.lock.notify_all()

    def compact(self):
        """Forgets the events so far: older resourceVersions get 410 Gone."""
        with self.lock:
            self.events = []
            self.oldest_rv = self.rv
            self.lock.notify_all()

    def lists(self):
        return [r for r in self.requests if "watch=1" not in r[1]]

    def watches(self):
        return [r for r in self.requests if "watch=1" in r[1]]

    def start(self):
        api = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send_json(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                ok = self.headers.get("Authorization") == "Bearer " + api.token
                api.requests.append((time.time(), self.path, ok))
                if not ok:
                    return self.send_json(401, {"kind": "Status", "code": 401, "reason": "Unauthorized"})
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                if u.path != "/api/v1/pods":
                    return self.send_json(404, {"kind": "Status", "code": 404})
                sel = q.get("fieldSelector", "")
                node = sel.split("=", 1)[1] if sel.startswith("spec.nodeName=") else None
                if q.get("watch") in ("1", "true"):
                    return self.watch(node, int(q.get("resourceVersion") or 0),
                                      int(q.get("timeoutSeconds") or 30))
                with api.lock:
                    items = sorted((p for p in api.pods.values()
                                    if node is None or p["spec"]["nodeName"] == node),
                                   key=lambda p: p["metadata"]["uid"])
                    rv = api.rv
                start = int(q.get("continue") or 0)
                limit = int(q.get("limit") or 0) or len(items)
                page = items[start:start + limit]
                md = {"resourceVersion": str(rv)}
                if start + limit < len(items):
                    md["continue"] = str(start + limit)
                self.send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": md, "items": page})

            def watch(self, node, since, timeout):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

                def send(obj):
                    data = (json.dumps(obj) + "\n").encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()

                deadline = time.time() + timeout
                try:
                    with api.lock:
                        if since < api.oldest_rv:
                            send({"type": "ERROR", "object": {"kind": "Status", "code": 410,
                                                              "reason": "Expired"}})
                            self.wfile.write(b"0\r\n\r\n")
                            return
                    while time.time() < deadline and not api.stopping:
                        with api.lock:
                            todo = [e for e in api.events if e[0] > since]
                            if not todo:
                                api.lock.wait(0.2)
                                continue
                        for rv, kind, pod in todo:
                            since = rv
                            if node is None or pod["spec"]["nodeName"] == node:
                                send({"type": kind, "object": pod})
                            else:
                                send({"type": "BOOKMARK", "object": {
                                    "kind": "Pod", "metadata": {"resourceVersion": str(rv)}}})
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                    pass

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.stopping = False
        self.server = S(("127.0.0.1", self.port), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Goes away like a restarting API server: open watches are cut."""
        self.stopping = True
        with self.lock:
            self.lock.notify_all()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
