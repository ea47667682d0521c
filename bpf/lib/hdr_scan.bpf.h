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
 * against the size of what it points to. */
struct zs_hs_buf {
	__u8 b[ZS_HS_BUF];
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

/*
 * A "\n" may be at p: does a header block end there (CRLFCRLF in
 * buf[p-3..p], starting at or after sc->from)? Returns 1 when the scan is
 * settled. A global function, so the verifier checks the block-end logic
 * once and not at each of its 8 calls in zs_hdr_scan8_cb. It gets the buffer
 * as an argument: one kept in sc would be a plain number to the verifier
 * after the first call.
 */
__noinline int zs_hdr_nl(struct zs_scan_ctx *sc, const struct zs_hs_buf *buf, __u64 p)
{
	if (!sc || !buf || p >= sc->n)
		return 1;
	if (p < sc->from + 3 || !zs_crlfcrlf_at(buf->b, p - 3))
		return 0;
	return zs_block_ended(buf->b, sc, (__u32)p + 1);
}

/* zs_hdr_scan8_cb's context (the buffer apart from sc: see zs_hdr_nl). */
struct zs_hs_run {
	const struct zs_hs_buf *buf;
	struct zs_scan_ctx *sc;
};

/*
 * bpf_loop callback over a chunk 8 bytes at a time. Every CRLFCRLF ends
 * with a "\n": a word without one (most of a header block) is passed over
 * with one test (SWAR: a byte of v ^ 0x0a0a.. is zero); each flagged byte of
 * the others goes to zs_hdr_nl, lowest first (the lowest is a "\n"; higher
 * ones may be borrows, and the bytes are checked there). Terminators are
 * found leftmost first, none overlapping the one before. (It replaced a
 * callback per 4th byte; bpf_stats could not tell either from no scan at
 * all for a 121-byte request: docs/BENCHMARKS.md.)
 */
static long zs_hdr_scan8_cb(__u64 i, void *ctx)
{
	struct zs_hs_run *r = ctx;
	struct zs_scan_ctx *sc = r->sc;
	const struct zs_hs_buf *buf = r->buf;
	__u64 base = i * 8, v, m, off;

	if (base >= sc->n)
		return 1;
	v = *(const __u64 *)&buf->b[base & (ZS_HS_MASK & ~7ULL)];
	m = zs_swar_nl(v);
	ZS_SWAR_EACH(m, off, zs_hdr_nl(sc, buf, base + off));
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
	bpf_loop((sc->n + 7) / 8, zs_hdr_scan8_cb, &r, 0);
}

#endif
