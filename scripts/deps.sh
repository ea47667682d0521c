#!/usr/bin/env bash
# Installs what zerospan needs from Debian (and npm, for the test-only
# official OTLP protos). Idempotent: installs only what is missing.
#   scripts/deps.sh build   - to build and run the agent
#   scripts/deps.sh test    - also what the tests use
set -euo pipefail
mode=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)

build_pkgs=(make gcc clang llvm libbpf-dev bpftool libelf-dev libprotobuf-c-dev protobuf-c-compiler
            zlib1g-dev libcurl4-openssl-dev libmicrohttpd-dev libjson-c-dev pkg-config)
test_pkgs=(nginx-light wrk curl wget python3 python3-protobuf protobuf-compiler iproute2 libcap2-bin
           procps psmisc libclang-rt-14-dev golang-go openssl chromium python3-prometheus-client
           python3-yaml podman debootstrap qemu-system-x86 busybox-static cpio xz-utils)

want=("${build_pkgs[@]}")
[ "$mode" = test ] && want+=("${test_pkgs[@]}")
# node and npm: the machine may have its own (NodeSource); else Debian's.
if [ "$mode" = test ] && ! command -v node >/dev/null; then want+=(nodejs); fi
if [ "$mode" = test ] && ! command -v npm >/dev/null; then want+=(npm); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing ${missing[*]}; run as root (sudo make ...)" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$mode" = test ]; then
  # The official OTLP v1.4.0 protos, as shipped in @elastic/mockotlpserver@0.10.0:
  # the tests decode what we export with them, not with our own .proto.
  protos="$here/build/otlp-proto"
  if [ ! -f "$protos/package/opentelemetry/proto/collector/trace/v1/trace_service.proto" ]; then
    mkdir -p "$protos"
    (cd "$protos" && npm pack --silent @elastic/mockotlpserver@0.10.0 >/dev/null && tar xzf elastic-mockotlpserver-0.10.0.tgz)
  fi
  # An OpenTelemetry-instrumented Node service for the trace-context tests.
  sdk="$here/build/otel-sdk"
  if [ ! -d "$sdk/node_modules/@opentelemetry/sdk-trace-node" ]; then
    mkdir -p "$sdk"
    cp "$here/tests/integration/otel-sdk/package.json" "$here/tests/integration/otel-sdk/package-lock.json" "$sdk/"
    (cd "$sdk" && npm ci --no-audit --no-fund --silent)
  fi
  # playwright-core (pinned) drives Debian's chromium through the live view.
  view="$here/build/view-test"
  if [ ! -d "$view/node_modules/playwright-core" ]; then
    mkdir -p "$view"
    cp "$here/tests/integration/view/package.json" "$here/tests/integration/view/package-lock.json" "$view/"
    (cd "$view" && npm ci --no-audit --no-fund --silent)
  fi
  # Go programs: an HTTPS server (crypto/tls; the TLS tests check it is
  # reported as not covered) and a net/http front calling a back (goroutines),
  # also stripped of its symbol table (-s -w, as images are often built).
  for prog in go_server go_front go_front_stripped; do
    gobin="$here/build/go/$prog" src="${prog%_stripped}" flags=
    [ "$prog" = "$src" ] || flags="-s -w"
    if [ ! -x "$gobin" ] || [ "$here/tests/integration/servers/$src/main.go" -nt "$gobin" ]; then
      mkdir -p "$here/build/go"
      (cd "$here/tests/integration/servers/$src" && GOCACHE="$here/build/go/cache" \
        GOPATH="$here/build/go/path" GO111MODULE=off GOFLAGS= CGO_ENABLED=0 \
        go build -ldflags="$flags" -o "$gobin" main.go)
    fi
  done
  # podman runs the agent's image and service containers (test_podman.py).
  "$here/scripts/container-host.sh"
  py="$here/build/otlp-py"
  if [ ! -f "$py/opentelemetry/proto/collector/trace/v1/trace_service_pb2.py" ]; then
    mkdir -p "$py"
    (cd "$protos/package" && protoc --python_out="$py" $(find opentelemetry -name '*.proto'))
  fi
fi
