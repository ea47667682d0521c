/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A word at a time: the exact byte tests the header scans (trace_ctx.bpf.h,
 * hdr_scan.bpf.h) pass most of a header block with, and the offset of a
 * word's lowest flagged byte. Pure logic; tested through both scans' tests.
 */
#ifndef ZS_SWAR_BPF_H
#define ZS_SWAR_BPF_H

/* 0x80 at each byte of v equal to c, and nowhere else (no borrows: bits
 * 0-6 of each byte are added apart from bit 7, which cannot carry out). */
static __always_inline __u64 zs_swar_eq(__u64 v, __u8 c)
{
	const __u64 low7 = 0x7f7f7f7f7f7f7f7fULL;
	__u64 x = v ^ (0x0101010101010101ULL * c);

	return ~(((x & low7) + low7) | x | low7);
}

/* The word at offset 1 of the word x (its bytes 1-7, then y's byte 0: y
 * is the word after x). */
static __always_inline __u64 zs_swar_next_byte(__u64 x, __u64 y)
{
	return (x >> 8) | (y << 56);
}

/* Words the header scans test per bpf_loop step (128 bytes): a step is a
 * call, and calls are what the scans cost (8 words: ~15 % slower). */
#define ZS_SCAN_WORDS 16

/* Offset in a word of its lowest flagged byte (0x80 at byte k): multiplying
 * 1 << 8k by this puts k in the top byte. */
#define ZS_SWAR_BYTE_IDX(m) (((((m) & -(m)) >> 7) * 0x0001020304050607ULL) >> 56)

#endif
