#!/usr/bin/env python3
"""Turns tests/corpora/llhttp-cases.jsonl (a copy of ../shared/corpora) into a line fixture the C parser
test reads (stdlib only, any python3). One case:
  C <title>            T <request|response>     I <input hex>
  E <llhttp rejected: 0|1>
  M <method|-> <url|-> <status> <minor> <nheaders> <complete: 0|1>   (per message)
  H <name hex> <value hex>                                      (per header)
  .
Lenient cases (meta type request-lenient-* ...) are left out: they describe
input a strict parser may reject; so are skipBody cases (llhttp told to skip a
body, which only a HEAD request does to us)."""
import base64, json, re, sys

src, dst = sys.argv[1], sys.argv[2]
out = open(dst, "w")
span = re.compile(r'off=\d+ len=\d+ span\[(\w+)\]="(.*)"$')
for line in open(src):
    d = json.loads(line)
    typ = d["meta"].get("type")
    if typ not in ("request", "response") or d["meta"].get("skipBody"):
        continue
    data = base64.b64decode(d["input_b64"])
    msgs, cur, err = [], None, False
    field = None
    for ev in d["log"].splitlines():
        m = span.search(ev)
        if ev.endswith("message begin"):
            cur = {"method": "", "url": "", "status": 0, "minor": -1, "hdrs": [], "done": 0, "hc": False}
            msgs.append(cur)
        elif m and cur is not None:
            # The log quotes the raw bytes, read as latin-1 (its offsets count
            # UTF-8 bytes, so they are not used).
            # Control characters are shown escaped (\t \r \n), quotes are not.
            raw = m.group(2).replace("\\t", "\t").replace("\\r", "\r").replace("\\n", "\n")
            k, v = m.group(1), raw.encode("latin-1", errors="replace")
            if k == "method": cur["method"] += v.decode("latin-1")
            elif k == "url": cur["url"] += v.decode("latin-1")
            elif k == "header_field":
                if field is None or field[1] is not None:
                    field = [v, None]; cur["hdrs"].append(field)
                else:
                    field[0] += v
            elif k == "header_value":
                field[1] = (field[1] or b"") + v
        elif "headers complete" in ev and cur is not None:
            cur["hc"] = True
            st = re.search(r"status=(\d+)", ev)
            if st: cur["status"] = int(st.group(1))
            v = re.search(r"v=1/(\d)", ev)
            if v: cur["minor"] = int(v.group(1))
            field = None
        elif ev.endswith("message complete") and cur is not None:
            cur["done"] = 1
        elif " error " in ev and "Pause on" not in ev:
            err = True
    out.write("C %s\nT %s\nI %s\nE %d\n" % (d["title"].replace("\n", " "), typ, data.hex(), err))
    for m in msgs:
        if not m["hc"]:
            continue
        out.write("M %s %s %d %d %d %d\n" % (m["method"] or "-", (m["url"] or "-").replace(" ", "%20"),
                                            m["status"], m["minor"], len(m["hdrs"]), m["done"]))
        for n, v in m["hdrs"]:
            out.write("H %s %s\n" % (n.hex() or "-", (v or b"").hex() or "-"))
    out.write(".\n")
