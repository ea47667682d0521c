#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for
# FUZZ_SECONDS (default 60), seeded with the llhttp corpus. Crashes are kept
# in build/fuzz/<target>/ as crash-*; the last line says "N passed, N failed".
#   tests/fuzz/run.sh [target...]      targets: http1 events context elf k8s gopclntab
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(http1 events context elf k8s gopclntab)
out=build/fuzz
mkdir -p "$out/seeds"
make -s all >/dev/null || { echo "fuzz: build failed"; echo "0 passed, 1 failed"; exit 1; }

# Seeds: every llhttp case's bytes, with a mode byte in front.
python3 - "$out/seeds" <<'PY'
import base64, json, sys, os
d = sys.argv[1]
for i, line in enumerate(open("tests/corpora/llhttp-cases.jsonl")):
    raw = base64.b64decode(json.loads(line)["input_b64"])
    open(os.path.join(d, "case%03d" % i), "wb").write(bytes([i & 0xff]) + raw)
# trace-context values, for the context target
for i, v in enumerate([b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                       b"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-09-xyz",
                       b"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
                       b"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,fw529a3039@dt=x", b"0.25"]):
    open(os.path.join(d, "ctx%d" % i), "wb").write(v)
# Go's function table (1.18+ layout) with two functions, for the gopclntab target
import struct
names = b"main.main\0net/http.(*Request).write\0net/http.(*persistConn).roundTrip\0"
fname, pcln = 72, 72 + ((len(names) + 7) & ~7)
hdr = struct.pack("<IBBBBQQQQQQQQ", 0xfffffff0, 0, 0, 1, 8, 3, 0, 0x401000, fname, 0, 0, 0, pcln)
ftab = struct.pack("<IIIIIII", 0x10, 32, 0x50, 40, 0x90, 48, 0xd0)
funcs = struct.pack("<IiIiIi", 0x10, 0, 0x50, 10, 0x90, 36)
pad = b"\0" * (pcln - fname - len(names))
open(os.path.join(d, "gopclntab0"), "wb").write(hdr + names + pad + ftab + b"\0" * 4 + funcs)
# a Pod as the API server sends it, for the k8s target
open(os.path.join(d, "pod0"), "w").write(open("tests/unit/k8s_pod.json").read())
PY

# Small ELF files with TLS symbols and the markers of uncovered TLS, for the elf target.
printf 'void SSL_read(void){} void SSL_write_ex(void){} void gnutls_record_recv(void){}
const char *s = "crypto/tls. BoringSSL OPENSSL_internal"; void _start(void){for(;;);}' |
  cc -x c -nostdlib -static -no-pie -Os -Wl,-n,--build-id=none,-z,norelro,--no-warn-rwx-segments \
    -o "$out/seeds/elf-static" - 2>/dev/null
printf 'int SSL_write(void){return 0;}' |
  cc -x c -shared -fPIC -Os -nostdlib -Wl,--build-id=none -o "$out/seeds/elf-shared" - 2>/dev/null

srcs=$(ls user/*.c user/*/*.c | grep -v user/main.c)
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE
       -Iinclude -Iuser -Ibuild -Ibuild/gen -Wno-unused-parameter"
pass=0; fail=0
for t in "${targets[@]}"; do
  bin=$out/fuzz_$t
  # shellcheck disable=SC2086
  if ! clang $flags -o "$bin" tests/fuzz/fuzz_$t.c $srcs build/gen/*.pb-c.c build/gen/view_html.c \
       -lbpf -lelf -lz -lcurl -lmicrohttpd -lprotobuf-c -ljson-c -lpthread; then
    echo "fuzz $t: build failed"; fail=$((fail + 1)); continue
  fi
  mkdir -p "$out/$t/corpus"
  if (cd "$out/$t" && "../fuzz_$t" -max_total_time="$secs" -max_len=8192 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 corpus ../seeds 2>"log") ; then
    echo "fuzz $t: $(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$out/$t/log" | grep -Eo '[0-9]+$') runs in ${secs}s, no crash"
    pass=$((pass + 1))
  else
    echo "fuzz $t: FAILED, see $out/$t/log and $out/$t/crash-*"; tail -30 "$out/$t/log"
    fail=$((fail + 1))
  fi
done
echo "fuzz: $pass passed, $fail failed"
