/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A word at a time: the "\n" test the header scans (trace_ctx.bpf.h,
 * hdr_scan.bpf.h) pass most of a header block with, and the walk over the
 * flagged bytes of a word. Pure logic; tested through both scans' tests.
 */
#ifndef ZS_SWAR_BPF_H
#define ZS_SWAR_BPF_H

/* 0x80 at each byte of v that is "\n" (a byte of v ^ 0x0a0a.. is zero).
 * The lowest flag is exact; a higher one may be a borrow, so whoever gets
 * its offset checks the byte. */
static __always_inline __u64 zs_swar_nl(__u64 v)
{
	__u64 x = v ^ 0x0a0a0a0a0a0a0a0aULL;

	return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
}

/* Offset in a word of its lowest flagged byte (0x80 at byte k): multiplying
 * 1 << 8k by this puts k in the top byte. */
#define ZS_SWAR_BYTE_IDX(m) (((((m) & -(m)) >> 7) * 0x0001020304050607ULL) >> 56)

/* In a bpf_loop callback: the next flagged byte of m, its offset in off;
 * returns 0 from the callback when none is left, 1 when call says stop. */
#define ZS_SWAR_NEXT(m, off, call)           \
	do {                                 \
		if (!(m))                    \
			return 0;            \
		(off) = ZS_SWAR_BYTE_IDX(m); \
		if (call)                    \
			return 1;            \
		(m) &= (m)-1;                \
	} while (0)

/* All of them (a word has at most 8), lowest first. */
#define ZS_SWAR_EACH(m, off, call)          \
	do {                                \
		ZS_SWAR_NEXT(m, off, call); \
		ZS_SWAR_NEXT(m, off, call); \
		ZS_SWAR_NEXT(m, off, call); \
		ZS_SWAR_NEXT(m, off, call); \
		ZS_SWAR_NEXT(m, off, call); \
		ZS_SWAR_NEXT(m, off, call); \
		ZS_SWAR_NEXT(m, off, call); \
		ZS_SWAR_NEXT(m, off, call); \
	} while (0)

#endif
