// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BPF_PROG_RUN wrappers around bpf/lib/trace_ctx.bpf.h: the traceparent
 * scan and validation the kernel applies to served requests, and the header
 * it injects. Driven by tests/bpf/bpf_runner.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "zerospan_abi.h"
#include "lib/trace_ctx.bpf.h"
#include "test_ctx.h"

_Static_assert(ZS_T_TP_HDR_LEN == ZS_TP_HDR_LEN, "test_ctx.h header length");

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The scan buffer: a global (a map value), as large as the real one. */
__u8 tbuf[ZS_TC_BUF];

SEC("syscall")
int test_tp(struct zs_t_tp *ctx)
{
	struct zs_tp_scan sc = {};
	struct zs_kernel_ctx c = {};
	__u8 hdr[ZS_TP_HDR_LEN];
	__u32 n = ctx->n;

	if (n > ZS_T_TP_MAX)
		return 0;
	/* constant offsets only: a ctx pointer may not be offset by a variable */
	__builtin_memcpy(tbuf, ctx->buf, ZS_T_TP_MAX);
	sc.buf = tbuf;
	sc.n = n;
	zs_tp_scan_run(&sc);
	ctx->count = sc.count;
	ctx->b3 = sc.b3;
	ctx->end = sc.end;
	ctx->ts_value = sc.ts_value;
	ctx->ts_len = sc.ts_len;
	ctx->ts_count = sc.ts_count;
	ctx->nl1 = sc.nl1;
	ctx->parsed = sc.count == 1 ? zs_tp_parse(tbuf, sc.value, n, &c) : -2;
	ctx->c = c;
	zs_tp_format(&c, hdr);
	__builtin_memcpy(ctx->hdr, hdr, ZS_TP_HDR_LEN);
	return 0;
}

/* A thread_ctx entry, as zs_ctx_store leaves it. */
struct zs_kernel_ctx entry;

SEC("syscall")
int test_ctx_check(struct zs_t_ctx_check *ctx)
{
	struct zs_kernel_ctx a = ctx->a, b = ctx->b;

	zs_ctx_store(&entry, &a);
	ctx->ok_a = entry.check == zs_ctx_check(&entry);
	/* a second writer, part way through */
	if (ctx->tear & 1)
		__builtin_memcpy(entry.trace_id, b.trace_id, 8);
	if (ctx->tear & 2)
		__builtin_memcpy(entry.trace_id + 8, b.trace_id + 8, 8);
	if (ctx->tear & 4)
		__builtin_memcpy(entry.span_id, b.span_id, 8);
	if (ctx->tear & 8) {
		entry.flags = b.flags;
		entry.state = b.state;
		entry.via = b.via;
		entry.has_ts = b.has_ts;
	}
	if (ctx->tear & 16)
		entry.check = zs_ctx_check(&b);
	ctx->ok_torn = entry.check == zs_ctx_check(&entry);
	zs_ctx_store(&entry, &b);
	ctx->ok_b = entry.check == zs_ctx_check(&entry);
	return 0;
}

/* zs_id_next's outputs, copied to the ctx at constant offsets (a ctx
 * pointer may not be offset by a variable). */
__u64 ids[ZS_T_IDS];

SEC("syscall")
int test_ids(struct zs_t_ids *ctx)
{
	__u64 state = ctx->state;
	__u32 k;

	for (k = 0; k < ZS_T_IDS; k++)
		ids[k] = zs_id_next(&state, ctx->salt);
	__builtin_memcpy(ctx->out, ids, sizeof(ids));
	ctx->state = state;
	return 0;
}
