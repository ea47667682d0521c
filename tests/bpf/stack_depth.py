#!/usr/bin/env python3
"""Deepest BPF stack of each program in a BPF object, checked against 512 bytes.

    tests/bpf/stack_depth.py [--limit N] [--report] build/bpf/sock.bpf.o ...

The verifier adds up the frames of every call chain (bpf-to-bpf calls and
bpf_loop callbacks) and refuses a program whose chain needs more than 512
bytes ("combined stack size of N calls is M. Too large"). Since 6.13 it
gives tracing programs a private stack instead, and skips that sum, but
older kernels apply it to all, and so does the 6.18.44 of our CI machines
to uprobe programs (which can be preempted): there the agent's uretprobe
was refused with 640 bytes while the tp_btf programs with the same chain
loaded. This check does not depend on the kernel: it reads each function's
frame from the object's code (the deepest r10 offset it touches, rounded
up to 32 bytes as older kernels do: Ubuntu 24.04's 6.8 refused a chain of
544 bytes that newer ones, rounding to 16 with the JIT on, counted as 480)
and the calls from its relocations, over all code (no dead code pruned),
so it can only overstate.
Prints "stack depth of <object>: N passed, N failed" (one check per program).
"""
import re
import subprocess
import sys

LIMIT = 512
FUNC = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")
SECTION = re.compile(r"^Disassembly of section (\S+):$")
STACK = re.compile(r"r10 - (\d+)")
INSN = re.compile(r"^\s*(\d+):\s+(.*)$")
RELOC = re.compile(r"R_BPF_64_(32|64)\s+(\S+)")


def round_frame(depth):
    # 32-byte steps, as older kernels' check_max_stack_depth (newer ones
    # take 16 when the JIT is on: then this overstates)
    return (max(depth, 1) + 31) // 32 * 32


def parse(obj):
    out = subprocess.run(["llvm-objdump", "-dr", "--no-show-raw-insn", obj], check=True,
                         capture_output=True, text=True).stdout
    funcs = {}   # name -> {"section", "frame", "calls": set}
    text_at = {}  # byte offset in .text -> function name
    section = fn = None
    last = ""     # the instruction a relocation line belongs to
    unresolved = []  # bpf-to-bpf calls whose callee no relocation names
    for line in out.splitlines():
        m = SECTION.match(line)
        if m:
            section = m.group(1)
            continue
        m = FUNC.match(line)
        if m and not m.group(2).startswith("LBB"):
            fn = m.group(2)
            funcs[fn] = {"section": section, "depth": 0, "calls": set()}
            if section == ".text":
                text_at[int(m.group(1), 16)] = fn
            continue
        if fn is None:
            continue
        r = RELOC.search(line)  # first: its offset may look like an instruction number
        if not r:
            m = INSN.match(line)
            if m:
                if last == "call -1":
                    unresolved.append(fn)
                last = m.group(2)
                s = STACK.search(last)
                if s:
                    funcs[fn]["depth"] = max(funcs[fn]["depth"], int(s.group(1)))
            continue
        kind, target = r.groups()
        if kind == "32" and last == "call -1":
            last = ""
            if target == ".text":
                unresolved.append(fn)
            else:
                funcs[fn]["calls"].add(target)  # a global or named static function
        elif kind == "64" and target == ".text":
            off = re.search(r"= (\d+) ll", last)  # a callback's address (bpf_loop)
            if off:
                funcs[fn]["calls"].add(("@", int(off.group(1))))
    for name, f in funcs.items():
        calls = {text_at.get(c[1]) if isinstance(c, tuple) else c for c in f["calls"]}
        if None in calls or not calls <= set(funcs):
            unresolved.append(name)
        f["calls"] = calls - {None}
        f["frame"] = round_frame(f["depth"])
    if unresolved:
        # a call this reading cannot follow would make its sums too low
        sys.exit(f"{obj}: calls not resolved in {sorted(set(unresolved))}: "
                 "teach tests/bpf/stack_depth.py this form")
    return funcs


def deepest(funcs, name, seen=()):
    """(bytes, chain) of the deepest call chain from name."""
    f = funcs.get(name)
    if f is None or name in seen:
        return 0, [name]
    best, chain = 0, []
    for c in sorted(f["calls"]):
        d, ch = deepest(funcs, c, seen + (name,))
        if d > best:
            best, chain = d, ch
    return f["frame"] + best, [f"{name}({f['frame']})"] + chain


def main(argv):
    limit, report, objs = LIMIT, False, []
    it = iter(argv)
    for a in it:
        if a == "--limit":
            limit = int(next(it))
        elif a == "--report":
            report = True
        else:
            objs.append(a)
    if not objs:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    failed_any = False
    for obj in objs:
        funcs = parse(obj)
        progs = [n for n, f in funcs.items() if f["section"] != ".text"]
        ok = bad = 0
        for p in sorted(progs):
            depth, chain = deepest(funcs, p)
            line = f"{p}: {depth} bytes: {' -> '.join(chain)}"
            if depth > limit:
                bad += 1
                print(f"FAIL {obj}: {line} (over {limit})")
            else:
                ok += 1
                if report:
                    print(f"ok   {obj}: {line}")
        print(f"stack depth of {obj}: {ok} passed, {bad} failed")
        failed_any |= bad > 0
    return 1 if failed_any else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
