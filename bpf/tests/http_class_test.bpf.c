// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BPF_PROG_RUN wrappers around bpf/lib logic, so it is tested inside the
 * kernel, with the verifier, exactly as the real programs use it.
 * Driven by tests/bpf/bpf_runner.c; ctx in = ctx out. Each wrapper works on a
 * stack copy: a ctx pointer may not be offset by a variable index.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "zerospan_abi.h"
#include "lib/http_class.bpf.h"
#include "test_ctx.h"

_Static_assert(ZS_T_CLASSIFY_LEN == ZS_CLASSIFY_LEN, "test_ctx.h classify length");

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("syscall")
int test_classify(struct zs_t_classify *ctx)
{
	__u8 buf[ZS_CLASSIFY_LEN];
	__u32 i;

#pragma unroll
	for (i = 0; i < ZS_CLASSIFY_LEN; i++)
		buf[i] = ctx->buf[i];
	ctx->result = zs_classify_start(buf, ctx->n);
	ctx->opaque = zs_first_is_opaque(buf, ctx->n);
	return 0;
}

SEC("syscall")
int test_proxy_hdr(struct zs_t_proxy *ctx)
{
	struct zs_t_proxy c = *ctx;

	ctx->result = zs_proxy_hdr_len(c.buf, c.n < ZS_T_PROXY_MAX ? c.n : ZS_T_PROXY_MAX);
	ctx->maybe = zs_proxy_maybe(c.buf, c.n < ZS_T_PROXY_MAX ? c.n : ZS_T_PROXY_MAX);
	return 0;
}

SEC("syscall")
int test_hdr_end(struct zs_t_scan *ctx)
{
	struct zs_t_scan c;
	__u32 i;

#pragma unroll
	for (i = 0; i < ZS_T_SCAN_MAX; i++)
		c.buf[i] = ctx->buf[i];
	c.n = ctx->n;
	c.rolling = ctx->rolling;
	c.end_at = -1;
	for (i = 0; i < ZS_T_SCAN_MAX; i++) {
		if (i >= c.n)
			break;
		if (zs_hdr_end_step(&c.rolling, c.buf[i])) {
			c.end_at = (__s32)i;
			break;
		}
	}
	ctx->rolling = c.rolling;
	ctx->end_at = c.end_at;
	return 0;
}

SEC("syscall")
int test_verdict(struct zs_t_verdict *ctx)
{
	struct zs_t_verdict c = {};

	c.st.pos[0] = ctx->st.pos[0];
	c.st.pos[1] = ctx->st.pos[1];
	c.st.role = ctx->st.role;
	c.st.http = ctx->st.http;
	c.st.probe_chunks = ctx->st.probe_chunks;
	c.start = ctx->start;
	ctx->report = zs_http_verdict_step(&c.st, (__u8)c.start);
	ctx->st.http = c.st.http;
	ctx->st.probe_chunks = c.st.probe_chunks;
	return 0;
}

SEC("syscall")
int test_may_start(struct zs_t_may_start *ctx)
{
	struct zs_conn_state st = {};
	__u32 b0 = ctx->st.budget[0], b1 = ctx->st.budget[1], dir = ctx->dir;
	__u8 pipelined = ctx->st.pipelined;

	/* each field read on its own (no select on the ctx pointer) */
	asm volatile("" : "+r"(b0), "+r"(b1), "+r"(dir), "+r"(pipelined));
	st.budget[0] = b0;
	st.budget[1] = b1;
	st.pipelined = pipelined;
	ctx->result = zs_may_start(&st, (__u8)dir);
	return 0;
}

SEC("syscall")
int test_copy_len(struct zs_t_copy *ctx)
{
	struct zs_t_copy c = {};

	c.len = ctx->len;
	c.budget = ctx->budget;
	c.start = ctx->start;
	c.capture_size = ctx->capture_size;
	/* Keep clang from turning the select in zs_copy_len into arithmetic on the
	 * ctx pointer ("dereference of modified ctx ptr"). */
	asm volatile("" : "+r"(c.budget), "+r"(c.capture_size));
	ctx->result = zs_copy_len(&c.budget, (__u8)c.start, c.len, c.capture_size);
	ctx->budget = c.budget;
	return 0;
}
