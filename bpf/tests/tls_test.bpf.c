// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* BPF_PROG_RUN wrappers around bpf/lib/tls.bpf.h (see http_class_test.bpf.c). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "zerospan_abi.h"
#include "lib/tls.bpf.h"
#include "test_ctx.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("syscall")
int test_tls_ret_len(struct zs_t_tls_ret *ctx)
{
	ctx->len = zs_tls_ret_len((__u8)ctx->kind, ctx->rc, ctx->nbytes);
	return 0;
}

SEC("syscall")
int test_tls_match(struct zs_t_tls_match *ctx)
{
	ctx->match = zs_tls_match(ctx->call_cookie, ctx->cached_ok, ctx->thread_ok, ctx->len);
	return 0;
}

SEC("syscall")
int test_mark_tls(struct zs_t_mark_tls *ctx)
{
	struct zs_conn_state st = ctx->st;

	zs_conn_mark_tls(&st, ctx->ssl, ctx->tgid);
	/* field by field: a struct copy offsets the ctx pointer */
	ctx->st.pos[0] = st.pos[0];
	ctx->st.pos[1] = st.pos[1];
	ctx->st.ssl = st.ssl;
	ctx->st.budget[0] = st.budget[0];
	ctx->st.budget[1] = st.budget[1];
	ctx->st.tgid = st.tgid;
	ctx->st.probe_chunks = st.probe_chunks;
	ctx->st.role = st.role;
	ctx->st.http = st.http;
	ctx->st.tls = st.tls;
	return 0;
}
