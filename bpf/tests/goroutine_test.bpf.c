// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* BPF_PROG_RUN wrappers around bpf/lib/goroutine.bpf.h (see http_class_test.bpf.c). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "zerospan_abi.h"
#include "lib/goroutine.bpf.h"
#include "test_ctx.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("syscall")
int test_go(struct zs_t_go *ctx)
{
	ctx->flow = zs_go_flow_of(ctx->g);
	ctx->fresh = zs_go_fresh(ctx->then, ctx->now);
	return 0;
}
