// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* BPF_PROG_RUN wrapper around zs_enrol_judge (bpf/lib/enrol.bpf.h), driven
 * by tests/bpf/bpf_runner.c. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "zerospan_abi.h"
#include "lib/enrol.bpf.h"
#include "test_ctx.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("syscall")
int test_enrol_judge(struct zs_t_enrol *ctx)
{
	__s32 family = ctx->family, state = ctx->state, reuse = ctx->fastreuse,
	      reuseport = ctx->fastreuseport, in_scope = ctx->in_scope;

	ctx->result =
		zs_enrol_judge((__u16)family, (__u8)state, (__s8)reuse, (__s8)reuseport, in_scope);
	return 0;
}
