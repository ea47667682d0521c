/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Verifier work-arounds, each with the message it avoids. */
#ifndef ZS_VERIFIER_BPF_H
#define ZS_VERIFIER_BPF_H

/*
 * Clamps VAR to at most UMAX in the register the next instruction uses.
 * clang (14) tends to clamp a copy and pass the unclamped register to the
 * helper, and the verifier then says "R2 unbounded memory access, use
 * 'var &= const' or 'if (var < const)'". Same idea as bpf_clamp_umax in the
 * kernel's selftests (tools/testing/selftests/bpf/progs/profiler.inc.h).
 */
#define zs_clamp_umax(VAR, UMAX)                 \
	asm volatile("if %0 <= %[max] goto +1\n" \
		     "%0 = %[max]\n"             \
		     : "+r"(VAR)                 \
		     : [max] "i"(UMAX))

#endif /* ZS_VERIFIER_BPF_H */
