// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BPF_PROG_RUN wrapper around bpf/lib/maps.bpf.h's context kept at
 * connect() (zs_conn_ctx_keep) and taken by a connection's first request
 * (zs_conn_call_ctx), with the runner's thread as the app's. A raw_tp
 * program: it runs in the calling thread, whose thread_ctx entry it writes
 * (and removes at the end). Driven by tests/bpf/bpf_runner.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "zerospan_abi.h"
#include "lib/maps.bpf.h"
#include "test_ctx.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct zs_t_conn_ctx t;

/* One connection: served a at connect(), b by the time of its calls
 * (b_after); its first call sent late (late); the calls' results in
 * t.out[step], t.ret[step] (and the next step's, for a second call). */
static __always_inline void conn(struct zs_sock_info *si, __u64 id, int step, int b_after, int late,
				 int calls)
{
	struct zs_kernel_ctx a = t.a, b = t.b, c = {};
	__u64 key = 0;
	int i;

	zs_ctx_put(id, &a);
	zs_conn_ctx_keep(si, id);
	if (b_after)
		zs_ctx_put(id, &b);
	if (late)
		si->conn_ns -= ZS_CONNECT_CTX_NS + 1;
	for (i = 0; i < calls && step + i < ZS_T_CONN_STEPS; i++) {
		t.ret[(step + i) % ZS_T_CONN_STEPS] = zs_conn_call_ctx(si, id, ~0ULL, &c, &key);
		t.out[(step + i) % ZS_T_CONN_STEPS] = c;
	}
}

SEC("raw_tp")
int test_conn_ctx(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct zs_sock_info si = {};

	conn(&si, id, 0, 1, 0, 2); /* a, then b: the first call a, the second b */
	conn(&si, id, 2, 1, 1, 1); /* sent more than a second after connect(): b */
	conn(&si, id, 3, 0, 0, 1); /* still serving a (its tracestate passed on) */
	conn(&si, id, 4, 1, 0, 1); /* a, b since: a, without a's tracestate */
	/* nothing served at connect(): the sender's b */
	bpf_map_delete_elem(&thread_ctx, &id);
	zs_conn_ctx_keep(&si, id);
	{
		struct zs_kernel_ctx b = t.b, c = {};
		__u64 key = 0;

		zs_ctx_put(id, &b);
		t.ret[5] = zs_conn_call_ctx(&si, id, ~0ULL, &c, &key);
		t.out[5] = c;
	}
	/* B3 alone at connect() (FOREIGN): not injected, as zs_call_ctx */
	{
		struct zs_kernel_ctx f = t.a, c = {};
		__u64 key = 0;

		f.state = ZS_CTX_FOREIGN;
		zs_ctx_put(id, &f);
		zs_conn_ctx_keep(&si, id);
		t.ret[6] = zs_conn_call_ctx(&si, id, ~0ULL, &c, &key);
	}
	bpf_map_delete_elem(&thread_ctx, &id);
	return 0;
}
