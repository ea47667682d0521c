/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where header blocks end in a copied chunk: the CRLFCRLF search that decides
 * how much of a chunk goes to userspace (headers yes, body no, pipelined
 * requests all). Pure logic over a buffer in a map value; tested through
 * bpf/tests/hdr_scan_test.bpf.c against a byte-at-a-time reference.
 */
#ifndef ZS_HDR_SCAN_BPF_H
#define ZS_HDR_SCAN_BPF_H

#include "zerospan_abi.h"
#include "http_class.bpf.h"
#include "swar.bpf.h"

/* Buffers scanned: 2 * ZS_CAPTURE_MAX bytes, at most ZS_CAPTURE_MAX valid. */
#define ZS_HS_BUF (2 * ZS_CAPTURE_MAX)
#define ZS_HS_MASK (ZS_HS_BUF - 1)

/* The buffer, as a type: a global function's pointer argument is checked
 * against the size of what it points to. Words are read through w[]: a
 * word cast from &b[i] has b's alignment (1) to the compiler, and BPF
 * code for an unaligned 8-byte read is eight byte loads, shifts and ors,
 * which was most of a word's test. */
struct zs_hs_buf {
	union {
		__u8 b[ZS_HS_BUF];
		__u64 w[ZS_HS_BUF / 8];
	};
};

struct zs_scan_ctx {
	__u32 n;
	__u32 from;  /* terminators must start at or after this offset */
	__u32 cut;   /* copy up to here; 0 = keep all n bytes */
	__u8 found;  /* a header block ended in this chunk */
	__u8 blocks; /* header blocks ended in this chunk */
	__u8 _pad[2];
};

/* Bytes checked one at a time against the previous chunk's last bytes. */
#define ZS_HDR_CARRY 3

/* The last 4 bytes seen in a direction, after this chunk's got bytes. */
static __always_inline __u32 zs_rolling_tail(const __u8 *buf, __u32 got, __u32 prev)
{
	__u32 r = prev, q;

#pragma unroll
	for (q = 0; q < 4; q++)
		if (got >= 4 - q)
			zs_hdr_end_step(&r, buf[(got - 4 + q) & ZS_HS_MASK]);
	return r;
}

/*
 * A header block ended at end (just past its CRLFCRLF), end <= n. Body bytes
 * after it are cut off; bytes that start another message (pipelining) are
 * kept. Returns 1 when the scan is settled.
 */
static __always_inline int zs_block_ended(const __u8 *buf, struct zs_scan_ctx *sc, __u32 end)
{
	__u8 next[ZS_CLASSIFY_LEN];
	__u32 j;

	sc->found = 1;
	sc->blocks++;
	sc->from = end; /* a later terminator must start after this one */
	if (end >= sc->n)
		return 1;
#pragma unroll
	for (j = 0; j < ZS_CLASSIFY_LEN; j++)
		next[j] = buf[(end + j) & ZS_HS_MASK];
	if (zs_classify_start(next, sc->n - end) != ZS_START_NONE)
		return 0;
	sc->cut = end;
	return 1;
}

/*
 * A header block whose CRLFCRLF began in the previous chunk ends in this
 * chunk's first ZS_HDR_CARRY bytes. Returns 1 when the scan is settled
 * (no more bytes, or body bytes to cut off); otherwise leaves sc->from set
 * for the search of further (pipelined) header blocks.
 */
static __always_inline int zs_carry_end(const __u8 *buf, __u32 rolling, struct zs_scan_ctx *sc)
{
	__u32 q, end = 0;

#pragma unroll
	for (q = 0; q < ZS_HDR_CARRY; q++)
		if (!end && q < sc->n && zs_hdr_end_step(&rolling, buf[q]))
			end = q + 1;
	if (!end)
		return 0;
	return zs_block_ended(buf, sc, end);
}

/* CRLFCRLF at buf[i..i+3]? */
static __always_inline int zs_crlfcrlf_at(const __u8 *buf, __u64 i)
{
	return buf[i & ZS_HS_MASK] == '\r' && buf[(i + 1) & ZS_HS_MASK] == '\n' &&
	       buf[(i + 2) & ZS_HS_MASK] == '\r' && buf[(i + 3) & ZS_HS_MASK] == '\n';
}

/* 0x80 at byte k of the word x when a CRLFCRLF starts there (y: the word
 * after x). Exact: no borrows, so a flag is a terminator (past the chunk's
 * end, a stale one). */
static __always_inline __u64 zs_swar_crlfcrlf(__u64 x, __u64 y)
{
	__u64 crlf_x = zs_swar_eq(x, '\r') & zs_swar_eq(zs_swar_next_byte(x, y), '\n');
	__u64 crlf_y = zs_swar_eq(y, '\r') & zs_swar_eq(y >> 8, '\n'); /* bytes 0, 1 */

	return crlf_x & ((crlf_x >> 16) | (crlf_y << 48));
}

/*
 * Terminators start in the word at offset at where m flags them: each one
 * inside the chunk and not overlapping the one before ends a header block.
 * Returns 1 when the scan is settled. A global function, so the verifier
 * checks it once and not at each of its calls in zs_hdr_scan_cb; it gets
 * the buffer as an argument (one kept in sc would be a plain number to the
 * verifier after the first call). Called about once per header block.
 */
__noinline int zs_hdr_word(struct zs_scan_ctx *sc, const struct zs_hs_buf *buf, __u64 at, __u64 m)
{
	__u64 p;
	__u32 j;

	if (!sc || !buf)
		return 1;
#pragma clang loop unroll(disable)
	for (j = 0; j < 8; j++) {
		if (!m)
			return 0;
		p = at + ZS_SWAR_BYTE_IDX(m);
		m &= m - 1;
		if (p + 4 > sc->n)
			return 1; /* this one and the rest are past the chunk */
		if (p < sc->from)
			continue;
		if (zs_block_ended(buf->b, sc, (__u32)p + 4))
			return 1;
	}
	return 0;
}

/* zs_hdr_scan_cb's context (the buffer apart from sc: see zs_hdr_word). */
struct zs_hs_run {
	const struct zs_hs_buf *buf;
	struct zs_scan_ctx *sc;
};

/*
 * bpf_loop callback over a chunk ZS_SCAN_WORDS words at a time: each word
 * is tested for a CRLFCRLF starting in it with a few ALU operations (SWAR,
 * the next word lending the bytes past its end), and only a word holding
 * one calls zs_hdr_word. Calls are what a scan costs here: each bpf_loop
 * iteration and global function call returns through the kernel's return
 * thunk. It replaced a callback per 8 bytes and a call per "\n": a 121-byte
 * request ~220 -> ~95 ns, a response whose header block ends at byte 238
 * ~430 -> ~180 ns; words read whole and 128 bytes a step, ~65 and ~120 ns
 * (bpf/tests/scan_time.bpf.c, docs/BENCHMARKS.md).
 */
static long zs_hdr_scan_cb(__u64 i, void *ctx)
{
	struct zs_hs_run *r = ctx;
	struct zs_scan_ctx *sc = r->sc;
	const struct zs_hs_buf *buf = r->buf;
	__u64 at = i * 8 * ZS_SCAN_WORDS, x, y, m;
	__u32 w;

	x = buf->w[(at / 8) & (ZS_HS_BUF / 8 - 1)];
#pragma unroll
	for (w = 0; w < ZS_SCAN_WORDS; w++, at += 8) {
		if (at >= sc->n)
			return 1;
		y = buf->w[(at / 8 + 1) & (ZS_HS_BUF / 8 - 1)];
		m = zs_swar_crlfcrlf(x, y);
		if (m && zs_hdr_word(sc, buf, at, m))
			return 1;
		x = y;
	}
	return 0;
}

/*
 * Finds the header blocks that end in buf[0..sc->n) (sc zeroed but for n;
 * rolling: the direction's last 4 bytes before this chunk). is_response:
 * the chunk starts a response, whose write usually ends its own header
 * block: then no search is needed. Request chunks are searched (several
 * blocks in one means pipelining).
 */
static __always_inline void zs_hdr_scan(const __u8 *buf, __u32 rolling, int is_response,
					struct zs_scan_ctx *sc)
{
	struct zs_hs_run r = { (const struct zs_hs_buf *)buf, sc };

	if (zs_carry_end(buf, rolling, sc))
		return; /* a terminator begun in the previous chunk ended here */
	if (is_response && sc->n >= 4 && zs_crlfcrlf_at(buf, sc->n - 4)) {
		sc->found = 1;
		sc->blocks++;
		return;
	}
	bpf_loop((sc->n + 8 * ZS_SCAN_WORDS - 1) / (8 * ZS_SCAN_WORDS), zs_hdr_scan_cb, &r, 0);
}

#endif
