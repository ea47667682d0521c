#!/usr/bin/env bash
# Regenerates the checked-in vmlinux.h from the running kernel's BTF.
# CO-RE relocations make the result portable: the header only needs the type
# names and fields we use, and libbpf fixes offsets up at load time.
set -euo pipefail
arch=$(uname -m)
out="$(dirname "$0")/../vmlinux/${arch}/vmlinux.h"
mkdir -p "$(dirname "$out")"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out from $(uname -r)"
