// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the header scans cost per chunk, timed by BPF_PROG_RUN's repeat
 * count (a tc program: syscall programs take none). tests/bpf/bpf_runner.c
 * fills the chunk and prints ns per scan; nothing is asserted (machines are
 * noisy), the numbers go to docs/BENCHMARKS.md.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "zerospan_abi.h"
#include "lib/hdr_scan.bpf.h"
#include "lib/trace_ctx.bpf.h"
#include "test_ctx.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* One global (the object's .bss map), so the runner writes it in one update. */
struct zs_t_scan_time timing;

SEC("tc")
int time_scans(struct __sk_buff *skb)
{
	__u32 n = timing.n & (ZS_CAPTURE_MAX - 1);

	if (timing.which == ZS_T_TIME_HDR_SCAN) {
		struct zs_scan_ctx sc = { .n = n };

		zs_hdr_scan(timing.buf, 0, timing.is_response, &sc);
		timing.out = sc.found + sc.cut;
	} else if (timing.which == ZS_T_TIME_TP_SCAN) {
		struct zs_tp_scan s = { .buf = timing.buf, .n = n };

		zs_tp_scan_run(&s);
		timing.out = s.end + s.count;
	}
	return 0;
}

_Static_assert(sizeof(timing.buf) == ZS_HS_BUF && sizeof(timing.buf) == ZS_TC_BUF,
	       "scan buffer size");
