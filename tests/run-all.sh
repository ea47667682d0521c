#!/usr/bin/env bash
# Runs the test suites and ends with one line "N passed, N failed".
#   tests/run-all.sh [unit|bpf|integration|kernels|fuzz]...   (default: all;
#   fuzz runs FUZZ_SECONDS per target, 20 unless set)
# Unit tests are built with ASan+UBSan (build/asan/); the BPF, integration and
# kernels tests need root (kernels: other Debian and Ubuntu kernels booted under qemu).
set -uo pipefail
cd "$(dirname "$0")/.."
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit bpf integration kernels fuzz)
pass=0; fail=0

tally() { # parses "...: N passed, N failed" lines of one suite's output
  local out=$1 p f
  p=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$out" | awk '{s+=$1} END {print s+0}')
  f=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$out" | awk '{s+=$3} END {print s+0}')
  pass=$((pass + p)); fail=$((fail + f))
}

run_suite() {
  local name=$1; shift
  local out; out=$(mktemp)
  echo "== $name"
  "$@" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]} # the suite's own status (read before any other command)
  tally "$out"
  if [ "$rc" != 0 ] && ! grep -Eq '[0-9]+ passed, [1-9][0-9]* failed' "$out"; then
    echo "$name: exited $rc without reporting its failures"; fail=$((fail + 1))
  fi
  rm -f "$out"
}

for s in "${suites[@]}"; do
  case $s in
    unit)
      python3 tests/unit/corpus_to_fixture.py tests/corpora/llhttp-cases.jsonl build/llhttp.fixture \
        || { echo "corpus: tests/corpora/llhttp-cases.jsonl missing"; fail=$((fail + 1)); }
      make -s SANITIZE=1 BUILD=build/asan build/asan/tests/test_http1 build/asan/tests/test_agent build/asan/tests/test_context build/asan/tests/test_elfsym build/asan/tests/test_probe_site build/asan/tests/test_route build/asan/tests/test_graph build/asan/tests/test_listeners build/asan/tests/test_traces build/asan/tests/test_container build/asan/tests/test_k8s build/asan/tests/test_yield >/dev/null \
        || { echo "unit: build failed"; fail=$((fail + 1)); continue; }
      run_suite "unit: http1 (ASan+UBSan)" build/asan/tests/test_http1 build/llhttp.fixture
      run_suite "unit: agent (ASan+UBSan)" build/asan/tests/test_agent
      run_suite "unit: trace context (ASan+UBSan)" build/asan/tests/test_context
      run_suite "unit: ELF symbols for uprobes, TLS and Go (ASan+UBSan)" build/asan/tests/test_elfsym
      run_suite "unit: where the TLS uprobes go (ASan+UBSan)" build/asan/tests/test_probe_site
      run_suite "unit: routes (ASan+UBSan)" build/asan/tests/test_route
      run_suite "unit: RED metrics and service graph (ASan+UBSan)" build/asan/tests/test_graph
      run_suite "unit: listening sockets (ASan+UBSan)" build/asan/tests/test_listeners
      run_suite "unit: live view trace buffer (ASan+UBSan)" build/asan/tests/test_traces
      run_suite "unit: container ids from cgroups (ASan+UBSan)" build/asan/tests/test_container
      run_suite "unit: Kubernetes pod metadata (ASan+UBSan)" build/asan/tests/test_k8s tests/unit
      run_suite "unit: agent threads yielding the CPU (ASan+UBSan)" build/asan/tests/test_yield
      ;;
    bpf)
      make -s build/tests/bpf_runner >/dev/null || { echo "bpf: build failed"; fail=$((fail + 1)); continue; }
      run_suite "bpf: BPF_PROG_RUN" build/tests/bpf_runner build/bpf/tests/http_class_test.bpf.o \
        build/bpf/tests/trace_ctx_test.bpf.o build/bpf/tests/tls_test.bpf.o \
        build/bpf/tests/hdr_scan_test.bpf.o build/bpf/tests/scan_time.bpf.o \
        build/bpf/tests/enrol_test.bpf.o
      make -s build/bpf/sock.bpf.o build/bpf/inject.bpf.o build/bpf/enrol.bpf.o >/dev/null || { echo "bpf: build failed"; fail=$((fail + 1)); continue; }
      run_suite "bpf: every call chain within 512 bytes of stack" python3 tests/bpf/stack_depth.py \
        build/bpf/sock.bpf.o build/bpf/inject.bpf.o build/bpf/enrol.bpf.o
      ;;
    integration)
      make -s all >/dev/null || { echo "integration: build failed"; fail=$((fail + 1)); continue; }
      run_suite "integration: HTTP spans" /usr/bin/python3 tests/integration/test_http.py
      run_suite "integration: trace context" /usr/bin/python3 tests/integration/test_context.py
      run_suite "integration: HTTPS (TLS uprobes)" /usr/bin/python3 tests/integration/test_tls.py
      run_suite "integration: service graph and RED metrics" /usr/bin/python3 tests/integration/test_graph.py
      run_suite "integration: graph API and live view (chromium)" /usr/bin/python3 tests/integration/test_view.py
      run_suite "integration: container identity" /usr/bin/python3 tests/integration/test_containers.py
      run_suite "integration: Kubernetes metadata (hand-built API server)" /usr/bin/python3 tests/integration/test_k8s.py
      run_suite "integration: agent image in podman, services in containers" /usr/bin/python3 tests/integration/test_podman.py
      run_suite "integration: faults, loss accounting, bounded memory" /usr/bin/python3 tests/integration/test_faults.py
      run_suite "integration: deploy manifests" /usr/bin/python3 tests/integration/test_deploy.py
      run_suite "integration: only the documented capabilities" /usr/bin/python3 tests/integration/test_capabilities.py
      ;;
    kernels)
      run_suite "kernels: Debian 13's 6.12 (and its PREEMPT_RT build), Debian 12's 6.1, Ubuntu's 6.5, 6.8 (also --inject=off) and 6.11 (and 5.15, refused), under qemu" tests/kernels/run.sh
      ;;
    fuzz)
      FUZZ_SECONDS=${FUZZ_SECONDS:-20} run_suite "fuzz" tests/fuzz/run.sh
      ;;
    *) echo "unknown suite $s"; exit 2 ;;
  esac
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
