/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Pure, deterministic HTTP/1.x classification used by the kernel programs to
 * decide what is worth copying to userspace. No helpers, no maps: everything
 * here is unit-tested through BPF_PROG_RUN (bpf/tests/http_class_test.bpf.c).
 */
#ifndef ZS_HTTP_CLASS_BPF_H
#define ZS_HTTP_CLASS_BPF_H

/* CRLFCRLF as the rolling 4-byte window sees it. */
#define ZS_HDR_END_MAGIC 0x0d0a0d0aU

/* Bytes of a chunk's start that zs_classify_start looks at. */
#define ZS_CLASSIFY_LEN 8

/*
 * Matches the token tok (length tl) against the first n bytes of b.
 * A chunk shorter than the token matches on the prefix it has, so a client
 * that sends its request one byte per send() is still recognised.
 */
static __always_inline int zs_match_token(const __u8 *b, __u32 n, const char *tok, __u32 tl)
{
	__u32 i;

#pragma unroll
	for (i = 0; i < ZS_CLASSIFY_LEN; i++) {
		if (i >= tl || i >= n)
			break;
		if (b[i] != (__u8)tok[i])
			return 0;
	}
	return n > 0;
}

/*
 * Classifies the start of a chunk: a request line, a status line, or neither.
 * b holds min(n, ZS_CLASSIFY_LEN) bytes; n is the chunk length.
 */
static __always_inline __u8 zs_classify_start(const __u8 *b, __u32 n)
{
	if (n == 0)
		return ZS_START_NONE;
	switch (b[0]) {
	case 'G':
		return zs_match_token(b, n, "GET ", 4) ? ZS_START_REQUEST : ZS_START_NONE;
	case 'P':
		if (zs_match_token(b, n, "POST ", 5) || zs_match_token(b, n, "PUT ", 4) ||
		    zs_match_token(b, n, "PATCH ", 6))
			return ZS_START_REQUEST;
		return ZS_START_NONE;
	case 'D':
		return zs_match_token(b, n, "DELETE ", 7) ? ZS_START_REQUEST : ZS_START_NONE;
	case 'O':
		return zs_match_token(b, n, "OPTIONS ", 8) ? ZS_START_REQUEST : ZS_START_NONE;
	case 'C':
		return zs_match_token(b, n, "CONNECT ", 8) ? ZS_START_REQUEST : ZS_START_NONE;
	case 'T':
		return zs_match_token(b, n, "TRACE ", 6) ? ZS_START_REQUEST : ZS_START_NONE;
	case 'H':
		if (zs_match_token(b, n, "HTTP/1.", 7))
			return ZS_START_RESPONSE;
		return zs_match_token(b, n, "HEAD ", 5) ? ZS_START_REQUEST : ZS_START_NONE;
	}
	return ZS_START_NONE;
}

/* Feeds one byte to the header-end detector; 1 when a header block ends at it. */
static __always_inline int zs_hdr_end_step(__u32 *rolling, __u8 c)
{
	*rolling = (*rolling << 8) | c;
	return *rolling == ZS_HDR_END_MAGIC;
}

/* A v1 line is at most 107 bytes, CRLF included. */
#define ZS_PROXY_V1_MAX 107

/*
 * The length of the PROXY protocol header (v1: "PROXY ... CRLF"; v2: a
 * 16-byte binary head, version 2, then as many bytes as it says) that b
 * starts with, or 0. A load balancer (HAProxy, a cloud one) sends it before
 * the connection's first byte of HTTP. b holds the chunk's first n bytes; a
 * v2 header may be longer than n.
 */
static __always_inline __u32 zs_proxy_hdr_len(const __u8 *b, __u32 n)
{
	static const char v2[12] = ZS_PROXY_V2_SIG;
	__u32 i;

	if (n >= 16 && b[0] == '\r') {
#pragma unroll
		for (i = 0; i < 12; i++)
			if (b[i] != (__u8)v2[i])
				return 0;
		if ((b[12] & 0xf0) != 0x20)
			return 0;
		return 16 + ((__u32)b[14] << 8 | b[15]);
	}
	if (n < 8 || !zs_match_token(b, n, "PROXY ", 6))
		return 0;
	for (i = 6; i + 1 < n && i + 1 < ZS_PROXY_V1_MAX; i++)
		if (b[i] == '\r' && b[i + 1] == '\n')
			return i + 2;
	return 0;
}

/* Could b (n bytes) start a PROXY protocol header (zs_proxy_hdr_len)? Two
 * bytes decide: a first chunk for which this says no needs no look for one
 * (whose read and call cost ~70 ns a new connection). */
static __always_inline int zs_proxy_maybe(const __u8 *b, __u32 n)
{
	return n >= 8 && ((b[0] == 'P' && b[1] == 'R') || (b[0] == '\r' && b[1] == '\n'));
}

/*
 * The first chunk of a connection seen from its start was no HTTP/1.x: does
 * it start no TLS record either (any content type 20-24 of version 3.x, or
 * an SSLv2-style hello with its high bit set)? Then the connection speaks
 * another protocol (a database's, a cache's, HTTP/2 without TLS) for good.
 * b holds the chunk's first n bytes.
 */
static __always_inline int zs_first_is_opaque(const __u8 *b, __u32 n)
{
	if (n < 2 || (b[0] & 0x80))
		return 0;
	return !(b[0] >= 0x14 && b[0] <= 0x18 && b[1] == 0x03);
}

/* Non-HTTP chunks tolerated on a connection opened before the agent started. */
#define ZS_PROBE_CHUNKS_MAX 64

/*
 * Decides whether a connection carries HTTP/1.x, one chunk at a time.
 * Returns 1 when the chunk must be reported. A connection seen from its
 * first byte (role known, nothing moved yet) is decided by its first chunk;
 * one that predates the agent gets ZS_PROBE_CHUNKS_MAX chunks to show a
 * message start, since we may have joined it mid-body.
 */
static __always_inline int zs_http_verdict_step(struct zs_conn_state *st, __u8 start)
{
	if (st->http == ZS_HTTP_YES)
		return 1;
	if (st->http == ZS_HTTP_NO)
		return 0;
	if (start != ZS_START_NONE) {
		st->http = ZS_HTTP_YES;
		return 1;
	}
	if (st->role != ZS_ROLE_UNKNOWN && st->pos[0] == 0 && st->pos[1] == 0) {
		st->http = ZS_HTTP_NO;
		return 0;
	}
	if (++st->probe_chunks >= ZS_PROBE_CHUNKS_MAX)
		st->http = ZS_HTTP_NO;
	return 0;
}

/*
 * May a chunk in direction dir start a message, or does it continue one? A
 * header block still open in that direction (its copy budget armed, its end
 * not seen) is continued: a reader that takes a response one byte a read
 * would otherwise start a "request" at each 'T' or 'G' of it (zs_match_token
 * takes a short chunk's prefix: "T" may begin "TRACE "), and on a connection
 * of unknown role (opened before the agent) that would be a request served
 * by the reading process, whose context its children's calls continue: what
 * a reset connection's bytes did (zs_conn_get, 2026-12-03). Pipelined
 * connections look at every chunk.
 */
static __always_inline int zs_may_start(const struct zs_conn_state *st, __u8 dir)
{
	__u32 open = dir & 1 ? st->budget[1] : st->budget[0];

	/* (not budget[dir]: clang made that an OR into the pointer, which the
	 * verifier refuses) */
	asm volatile("" : "+r"(open));
	return st->pipelined || open == 0;
}

/*
 * How many bytes of a chunk to copy. A message start re-arms the per-direction
 * budget to capture_size; continuation chunks are copied while the budget
 * lasts (headers split over many syscalls); body chunks get nothing.
 */
static __always_inline __u32 zs_copy_len(__u32 *budget, __u8 start, __u64 len, __u32 capture_size)
{
	if (start != ZS_START_NONE)
		*budget = capture_size;
	return len < *budget ? (__u32)len : *budget;
}

#endif /* ZS_HTTP_CLASS_BPF_H */
