// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BPF_PROG_RUN wrapper around bpf/lib/hdr_scan.bpf.h: where header blocks
 * end in a chunk, as zs_capture decides what to copy. Driven by
 * tests/bpf/bpf_runner.c, which compares it with a byte-at-a-time reference.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "zerospan_abi.h"
#include "lib/hdr_scan.bpf.h"
#include "test_ctx.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The chunk buffer: a global (a map value), as large as the real one. */
__u8 hbuf[ZS_HS_BUF];

SEC("syscall")
int test_hdr_scan(struct zs_t_hscan *ctx)
{
	struct zs_scan_ctx sc = {};
	__u32 n = ctx->n;

	if (n > ZS_T_HSCAN_MAX)
		return 0;
	/* constant offsets only: a ctx pointer may not be offset by a variable */
	__builtin_memcpy(hbuf, ctx->buf, ZS_T_HSCAN_MAX);
	sc.n = n;
	zs_hdr_scan(hbuf, ctx->rolling, ctx->is_response, &sc);
	ctx->found = sc.found;
	ctx->blocks = sc.blocks;
	ctx->from = sc.from;
	ctx->cut = sc.cut;
	ctx->rolling_out = zs_rolling_tail(hbuf, n, ctx->rolling);
	return 0;
}
