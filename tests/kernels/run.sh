#!/usr/bin/env bash
# The agent on kernels other than the machine's own: Debian's kernel
# packages, booted under qemu (software emulation, no KVM needed) with an
# initramfs holding the built agent, busybox (httpd, wget), curl, openssl
# and bpftool; tests/kernels/vm_init.sh is its /init and check.py reads what
# it printed. Real kernels, real verifier, real hooks: a program that one of
# them refuses, or a hook it lacks, shows here.
#   sudo tests/kernels/run.sh [kernel]...   (default: all below)
# Kernels (the newest package of each line in Debian's archive):
#   trixie-6.12     Debian 13's 6.12 LTS, booted with preempt=full: no private
#                   BPF stacks (before 6.13), no tcp_sendmsg_locked (before 6.16,
#                   sends timed by fentry on inet_sendmsg), BPF programs preemptible
#   trixie-6.12-rt  the same line built PREEMPT_RT (Debian's linux-image-rt)
#   bookworm-6.1    Debian 12's 6.1: no sock:sock_{send,recv}_length (before
#                   6.3): socket data seen by fexit programs instead
# and in Ubuntu's (linux-image-unsigned-*-generic), for the lines Debian
# has none of; skipped, and said so, when that archive cannot be reached:
#   jammy-5.15      Ubuntu 22.04's own 5.15 (no bpf_loop): must be refused
#                   with a clear error (6.1+)
#   jammy-6.5       Ubuntu 22.04's HWE 6.5
#   noble-6.8       Ubuntu 24.04's own 6.8: stack frames counted in 32-byte
#                   steps, sockops without bpf_get_current_pid_tgid (before 6.10)
#   noble-6.8-inject-off  6.8 again with the agent run with --inject=off
#                   (same-host calls linked by connection in the agent, under
#                   emulation's stalls; server sockets had no role there)
#   noble-6.11      Ubuntu 24.04's HWE 6.11
# and, not in the default list: noble-6.14, noble-6.17 (Ubuntu 24.04's later
# HWE kernels).
# Downloads are kept in build/kernels/ (KERNEL_CACHE), with each VM's last console output.
# ZS_BENCH=rounds runs scripts/bench-syscalls.c in each VM instead of the
# checks: without the agent, with it, and with it timing sends by syscall
# tracepoints, alternated (emulated: only ratios mean much).
# KERNEL_APPEND adds to the kernel command line, e.g. preempt=full, or ZS_ARGS=-v
# (agent flags: -v puts the verifier's log on the console), or the agent's
# environment (ZEROSPAN_SEND_TIME=syscalls: the send timing for kernels that
# refuse fentry).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/kernels
cache=${KERNEL_CACHE:-build/kernels}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ubuntu_mirror=${UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}
kernels=("$@")
[ ${#kernels[@]} -eq 0 ] && kernels=(trixie-6.12 trixie-6.12-rt bookworm-6.1 jammy-5.15 jammy-6.5 noble-6.8
  noble-6.8-inject-off noble-6.11)
for t in qemu-system-x86_64 busybox cpio xz curl openssl bpftool; do
  command -v "$t" >/dev/null || { echo "kernels: $t missing (scripts/deps.sh test)"; echo "0 passed, 1 failed"; exit 1; }
done
make -s all >/dev/null
[ -z "${ZS_BENCH:-}" ] || cc -O2 -Wall -o build/bench-syscalls scripts/bench-syscalls.c -ldl

# fetch NAME SUITE PACKAGE_REGEX [MIRROR]: the newest matching kernel package's
# vmlinuz, extracted to $cache/NAME/vmlinuz (kept: later runs reuse it).
# Returns 2 when the archive's index cannot be fetched, 1 on other failures.
fetch() {
  local name=$1 suite=$2 re=$3 mirror=${4:-$mirror} dir=$cache/$1 file
  [ -s "$dir/vmlinuz" ] && return 0
  mkdir -p "$dir"
  if ! curl -fsS -m 120 "$mirror/dists/$suite/main/binary-amd64/Packages.xz" | xz -dc >"$dir/Packages"; then
    echo "kernels: $name: no index from $mirror"
    return 2
  fi
  file=$(awk -v re="$re" '/^Package: / {p = ($2 ~ re)} p && /^Filename: / {print $2}' "$dir/Packages" |
    sort -V | tail -1)
  [ -n "$file" ] || { echo "kernels: no package matching $re in $suite"; return 1; }
  echo "kernels: $name: $(basename "$file")"
  curl -fsS -m 600 -o "$dir/kernel.deb" "$mirror/$file" || return 1
  rm -rf "$dir/x" && dpkg-deb -x "$dir/kernel.deb" "$dir/x" || return 1
  cp "$dir"/x/boot/vmlinuz-* "$dir/vmlinuz" || return 1
  rm -rf "$dir/x" "$dir/kernel.deb" "$dir/Packages"
}

# initramfs OUT: busybox, the agent, curl, openssl, bpftool and their libraries.
initramfs() {
  local out=$1 root b l
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,usr/bin,usr/sbin,zs,proc,sys,dev,etc}
  cp "$(command -v busybox)" "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list); do [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"; done
  for b in build/zerospan "$(command -v curl)" "$(command -v openssl)" "$(command -v bpftool)" \
    ${ZS_BENCH:+build/bench-syscalls}; do
    for l in $(ldd "$b" | awk '/=>/ {print $3} /^\t\/lib/ {print $1}'); do
      mkdir -p "$root$(dirname "$l")" && cp -L "$l" "$root$l"
    done
  done
  rm -f "$root/bin/curl" "$root/bin/openssl"
  cp "$(command -v curl)" "$(command -v openssl)" "$root/usr/bin/"
  cp "$(command -v bpftool)" "$root/usr/sbin/"
  cp build/zerospan "$root/zs/zerospan"
  [ -z "${ZS_BENCH:-}" ] || cp build/bench-syscalls "$root/zs/"
  cp "$here/vm_init.sh" "$root/init"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$root/zs/key.pem" \
    -out "$root/zs/cert.pem" -subj /CN=localhost 2>/dev/null
  printf 'root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  (cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$out"
  rm -rf "$root"
}

work=$(mktemp -d /tmp/zs-kernels.XXXXXX)
trap 'rm -rf "$work"' EXIT
initramfs "$work/initrd.gz"
pass=0; fail=0; skipped=0
for k in "${kernels[@]}"; do
  src=$mirror; pkg=$k
  case $k in
    trixie-6.12) suite=trixie; re='^linux-image-6\.12\..*-cloud-amd64-unsigned$'; extra="preempt=full"; expect=trace ;;
    trixie-6.12-rt) suite=trixie; re='^linux-image-6\.12\..*-rt-amd64-unsigned$'; extra=""; expect=trace ;;
    bookworm-6.1) suite=bookworm; re='^linux-image-6\.1\..*-cloud-amd64-unsigned$'; extra=""; expect=trace ;;
    jammy-5.15) suite=jammy-updates; re='^linux-image-unsigned-5\.15\.0-[0-9]+-generic$'; extra=""; expect=refuse
      src=$ubuntu_mirror ;;
    jammy-6.5) suite=jammy-updates; re='^linux-image-unsigned-6\.5\.0-[0-9]+-generic$'; extra=""; expect=trace
      src=$ubuntu_mirror ;;
    noble-6.8) suite=noble-updates; re='^linux-image-unsigned-6\.8\.0-[0-9]+-generic$'; extra=""; expect=trace
      src=$ubuntu_mirror ;;
    noble-6.8-inject-off) suite=noble-updates; re='^linux-image-unsigned-6\.8\.0-[0-9]+-generic$'
      extra="ZS_ARGS=--inject=off"; expect=trace-noinject; src=$ubuntu_mirror; pkg=noble-6.8 ;;
    noble-6.11) suite=noble-updates; re='^linux-image-unsigned-6\.11\.0-[0-9]+-generic$'; extra=""; expect=trace
      src=$ubuntu_mirror ;;
    noble-6.14) suite=noble-updates; re='^linux-image-unsigned-6\.14\.0-[0-9]+-generic$'; extra=""; expect=trace
      src=$ubuntu_mirror ;;
    noble-6.17) suite=noble-updates; re='^linux-image-unsigned-6\.17\.0-[0-9]+-generic$'; extra=""; expect=trace
      src=$ubuntu_mirror ;;
    *) echo "kernels: unknown kernel $k"; fail=$((fail + 1)); continue ;;
  esac
  got=0
  fetch "$pkg" "$suite" "$re" "$src" || got=$?
  if [ "$got" = 2 ] && [ "$src" != "$mirror" ]; then
    # not Debian's archive: this machine may have no way to it
    echo "SKIP $k: $src not reachable"; skipped=$((skipped + 1)); continue
  elif [ "$got" != 0 ]; then
    echo "FAIL $k: kernel package not fetched"; fail=$((fail + 1)); continue
  fi
  echo "== $k"
  for attempt in 1 2; do
    timeout 900 qemu-system-x86_64 -M q35 -cpu max -smp 2 -m 2048 -nographic -nic none -no-reboot \
      -kernel "$cache/$pkg/vmlinuz" -initrd "$work/initrd.gz" \
      -append "console=ttyS0 panic=-1 quiet $extra ${KERNEL_APPEND:-} ${ZS_BENCH:+ZS_BENCH=$ZS_BENCH}" \
      </dev/null >"$work/$k.console" 2>&1 || true
    if [ -n "${ZS_BENCH:-}" ]; then
      tr -d '\r' <"$work/$k.console" | grep -a '^ZSVM bench' || true
      continue 2
    fi
    grep -q '^==== end' "$work/$k.console" && break
    # Seen once in 14 runs (its console was lost): the VM stopped early. Its
    # console's end is shown, whatever the second attempt does.
    echo "kernels: $k: the VM stopped before the end (attempt $attempt); its console's end:"
    tr -d '\r' <"$work/$k.console" | grep -av '^\s*$' | tail -60
  done
  cp "$work/$k.console" "$cache/$k.console" # kept for a look after a failure
  out=$(python3 "$here/check.py" "$work/$k.console" "$expect") || true
  grep -v '^RESULT ' <<<"$out" || true
  p=$(awk '/^RESULT / {print $2}' <<<"$out"); f=$(awk '/^RESULT / {print $3}' <<<"$out")
  if [ -z "$p" ]; then
    fail=$((fail + 1))
    tail -40 "$work/$k.console"
  else
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" = 0 ] || sed -n '/==== agent.err/,/==== spans/p' "$work/$k.console" | tail -30
  fi
done
[ "$skipped" = 0 ] || echo "kernels: $skipped kernel(s) skipped, their archive not reachable"
echo "kernels: $pass passed, $fail failed"
