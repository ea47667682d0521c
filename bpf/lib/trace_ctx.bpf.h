/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Trace context in the kernel: find a traceparent header in a copied header
 * block, validate it as W3C Trace Context says (same rules as
 * user/context.c), make new contexts, format the header we inject. Pure
 * logic over a buffer in a map value; tested through bpf/tests.
 */
#ifndef ZS_TRACE_CTX_BPF_H
#define ZS_TRACE_CTX_BPF_H

#include "zerospan_abi.h"
#include "swar.bpf.h"

/* Buffers scanned are at most this long (power of two, for masking). */
#define ZS_TC_BUF 32768
#define ZS_TC_MASK (ZS_TC_BUF - 1)
/* "traceparent: 00-" 32 "-" 16 "-" 2 CRLF */
#define ZS_TP_HDR_LEN 70

struct zs_tp_scan {
	const __u8 *buf; /* ZS_TC_BUF bytes, n valid */
	__u32 n;
	__u32 value;	/* offset of the first traceparent value */
	__u32 count;	/* traceparent headers seen: 0, 1, 2 = more than one */
	__u32 b3;	/* 1: B3 headers seen (b3:, x-b3-...) */
	__u32 end;	/* offset just past the header block's CRLFCRLF, 0: not seen */
	__u32 ts_value; /* offset of the tracestate value, 0: none */
	__u32 ts_len;	/* its length (up to CR), 0 until its line ended */
	__u32 ts_count; /* tracestate headers seen: 0, 1, 2 = more (not passed on) */
	__u32 nl1;	/* offset just past the first "\n", 0: none (the request line's end) */
};

/* tracestate values the kernel passes on at most (longer: not injected) */
#define ZS_TS_MAX 256

/* ASCII lowercase, branch-free: per-byte branches multiply verifier states
 * in the scan callbacks ("sequence of 8193 jumps is too complex"). */
static __always_inline __u8 zs_lower(__u8 c)
{
	__s32 x = (__s32)c - 'A';

	return (__u8)(c + (~((x | (25 - x)) >> 31) & 32));
}

/* Looks at the header line starting at offset l of b (s->buf). */
static __always_inline long zs_tp_line_in(struct zs_tp_scan *s, const __u8 *b, __u64 l)
{
	/* "traceparent:" (no static arrays: they break BTF for this object) */
	const __u64 name_lo = 0x7261706563617274ULL; /* "tracepar" little-endian */
	const __u32 name_hi = 0x3a746e65;	     /* "ent:" */
	__u64 lo = 0;
	__u32 hi = 0, k;
	__u8 c0;

	if (l >= s->n)
		return 0;
	c0 = b[l & ZS_TC_MASK];
	if (c0 == '\r' || c0 == '\n') {
		s->end = (__u32)l + (c0 == '\r' ? 2 : 1);
		return 1; /* empty line: end of the header block */
	}
	/* B3, which the kernel does not parse: the request has a context */
	if (l + 5 < s->n) {
		if (zs_lower(c0) == 'b' && b[(l + 1) & ZS_TC_MASK] == '3' &&
		    b[(l + 2) & ZS_TC_MASK] == ':')
			s->b3 = 1;
		if (zs_lower(c0) == 'x' && b[(l + 1) & ZS_TC_MASK] == '-' &&
		    zs_lower(b[(l + 2) & ZS_TC_MASK]) == 'b' && b[(l + 3) & ZS_TC_MASK] == '3' &&
		    b[(l + 4) & ZS_TC_MASK] == '-')
			s->b3 = 1;
	}
	if (l + 12 > s->n)
		return 0;
#pragma clang loop unroll(disable)
	/* not unrolled: twelve bytes live at once took 120 bytes of spills,
	 * on the scan's call chain (tests/bpf/stack_depth.py) */
	for (k = 0; k < 8; k++)
		lo |= (__u64)zs_lower(b[(l + k) & ZS_TC_MASK]) << (8 * k);
#pragma clang loop unroll(disable)
	for (k = 0; k < 4; k++)
		hi |= (__u32)zs_lower(b[(l + 8 + k) & ZS_TC_MASK]) << (8 * k);
	if (lo == 0x6174736563617274ULL /* "tracesta" */ &&
	    (hi & 0xffffff) == 0x3a6574 /* "te:" */) {
		__u32 v = (__u32)l + 11, w;

		if (s->ts_count) {
			s->ts_count = 2;
			return 0;
		}
		s->ts_count = 1;
		for (w = 0; w < 4; w++) {
			__u8 ch = b[v & ZS_TC_MASK];

			if (ch != ' ' && ch != '\t')
				break;
			v++;
		}
		s->ts_value = v;
		return 0;
	}
	if (lo != name_lo || hi != name_hi)
		return 0;
	/* flags, not counts: a value that keeps changing between iterations
	 * keeps the verifier from ever pruning the loop */
	if (s->count) {
		s->count = 2; /* a duplicate: invalid */
		return 0;
	}
	s->count = 1;
	{
		__u32 v = (__u32)l + 12, w;

		/* optional whitespace before the value (a few bytes at most) */
		for (w = 0; w < 4; w++) {
			__u8 ch = b[v & ZS_TC_MASK];

			if (ch != ' ' && ch != '\t')
				break;
			v++;
		}
		s->value = v;
	}
	return 0;
}

static __always_inline long zs_tp_line(struct zs_tp_scan *s, __u64 l)
{
	return zs_tp_line_in(s, s->buf, l);
}

/* A scan buffer, as a type: a global function's pointer argument is checked
 * against the size of what it points to. Words are read through w[] (see
 * struct zs_hs_buf). */
struct zs_tc_buf {
	union {
		__u8 b[ZS_TC_BUF];
		__u64 w[ZS_TC_BUF / 8];
	};
};

/*
 * A header line begins after each "\n" (and at offset 0 when the previous
 * chunk ended with one: the caller looks there first). At offset i: returns
 * 1 to stop (end of the header block, or of the buffer). A global function,
 * so the verifier checks it once (inlined into the scan, it made programs
 * "too large"). It gets the buffer as an argument: s->buf read here would be
 * a plain number to the verifier.
 */
__noinline int zs_tp_nl(struct zs_tp_scan *s, const struct zs_tc_buf *buf, __u64 i)
{
	const __u8 *b;

	if (!s || !buf || i >= s->n)
		return 1;
	b = buf->b;
	if (b[i & ZS_TC_MASK] != '\n')
		return 0;
	if (!s->nl1)
		s->nl1 = (__u32)i + 1;
	if (s->ts_value && !s->ts_len && i > s->ts_value) /* the tracestate line ends */
		s->ts_len = (__u32)i - s->ts_value - (b[(i - 1) & ZS_TC_MASK] == '\r');
	return zs_tp_line_in(s, b, i + 1);
}

/* 0x80 at each byte of b1 that can start a line zs_tp_line_in looks at:
 * t (traceparent, tracestate), b (b3), x (x-b3-...), either case, or the
 * CR or LF of the empty line ending the block. */
static __always_inline __u64 zs_swar_tp_line_start(__u64 b1)
{
	__u64 l = b1 | 0x2020202020202020ULL; /* lowercase letters */

	return zs_swar_eq(l, 't') | zs_swar_eq(l, 'b') | zs_swar_eq(l, 'x') | zs_swar_eq(b1, '\r') |
	       zs_swar_eq(b1, '\n');
}

/*
 * The "\n"s of the word at offset at that m flags go to zs_tp_nl, lowest
 * first. Returns 1 to stop. A global function: the verifier checks it once,
 * not at each of its calls in zs_tp_scan_cb.
 */
__noinline int zs_tp_word(struct zs_tp_scan *s, const struct zs_tc_buf *buf, __u64 at, __u64 m)
{
	__u32 j;

	if (!s || !buf)
		return 1;
#pragma clang loop unroll(disable)
	for (j = 0; j < 8; j++) {
		if (!m)
			return 0;
		if (zs_tp_nl(s, buf, at + ZS_SWAR_BYTE_IDX(m)))
			return 1;
		m &= m - 1;
	}
	return 0;
}

/* zs_tp_scan_cb's context. The buffer is kept apart from s: a global
 * function given s may write anything there, so the verifier no longer takes
 * s->buf for a pointer after the first zs_tp_nl call. */
struct zs_tp_run {
	const struct zs_tc_buf *buf;
	struct zs_tp_scan *s;
};

/*
 * bpf_loop callback over a buffer ZS_SCAN_WORDS words at a time. In each
 * word, SWAR finds the "\n"s (exactly) and which of them start a line that
 * may matter (zs_swar_tp_line_start on the next bytes); only a word with
 * such a line calls zs_tp_word. Calls are what a scan costs here (each returns
 * through the kernel's return thunk): a callback per 8 bytes and a call per
 * "\n" took ~220 ns for a 121-byte request and ~530 ns for a 238-byte
 * header block, 64 bytes a step ~140 and ~175 ns, and 128 bytes a step
 * with words read whole ~115 and ~120 ns (bpf/tests/scan_time.bpf.c,
 * docs/BENCHMARKS.md).
 * Words are read at multiples of 8 below ZS_TC_BUF; a "\n" at n or past it
 * ends the scan.
 */
static long zs_tp_scan_cb(__u64 i, void *ctx)
{
	struct zs_tp_run *r = ctx;
	struct zs_tp_scan *s = r->s;
	const struct zs_tc_buf *buf = r->buf;
	__u64 at = i * 8 * ZS_SCAN_WORDS, x, y, nl, m;
	__u32 w;

	x = buf->w[(at / 8) & (ZS_TC_BUF / 8 - 1)];
#pragma unroll
	for (w = 0; w < ZS_SCAN_WORDS; w++, at += 8) {
		if (at >= s->n)
			return 1;
		y = buf->w[(at / 8 + 1) & (ZS_TC_BUF / 8 - 1)];
		nl = zs_swar_eq(x, '\n');
		/* every "\n" while the request line or a tracestate line is open
		 * (a tracestate line is longer than a word: its end is never in
		 * the word of the "\n" before it) */
		if (nl) {
			m = !s->nl1 || (s->ts_value && !s->ts_len)
				    ? nl
				    : nl & zs_swar_tp_line_start(zs_swar_next_byte(x, y));
			if (m && zs_tp_word(s, buf, at, m))
				return 1;
		}
		x = y;
	}
	return 0;
}

/* Scans buf[0..s->n) for the header lines zs_tp_line_in knows. The buffer
 * comes apart from s: an s kept in a map value holds no pointer the
 * verifier would take for one. */
static __always_inline void zs_tp_scan_in(struct zs_tp_scan *s, const __u8 *buf)
{
	struct zs_tp_run r = { (const struct zs_tc_buf *)buf, s };

	bpf_loop((s->n + 8 * ZS_SCAN_WORDS - 1) / (8 * ZS_SCAN_WORDS), zs_tp_scan_cb, &r, 0);
}

/* Scans s->buf[0..s->n) for the header lines zs_tp_line knows. */
static __always_inline void zs_tp_scan_run(struct zs_tp_scan *s)
{
	zs_tp_scan_in(s, s->buf);
}

static __always_inline int zs_hexval(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n hex chars at buf[off..] into out[n/2]; -1 on a non-lowercase-hex char. */
static __always_inline int zs_hex_in(const __u8 *buf, __u32 off, __u8 *out, __u32 n)
{
	__u32 k;

	for (k = 0; k < n; k += 2) {
		int hi = zs_hexval(buf[(off + k) & ZS_TC_MASK]);
		int lo = zs_hexval(buf[(off + k + 1) & ZS_TC_MASK]);

		if (hi < 0 || lo < 0)
			return -1;
		out[k / 2] = (__u8)(hi << 4 | lo);
	}
	return 0;
}

/* Validates the traceparent value at buf[v..n) into c (trace_id, span_id
 * = the caller's span, flags). Same rules as zs_traceparent_parse(). */
static __always_inline int zs_tp_parse(const __u8 *buf, __u32 v, __u32 n, struct zs_kernel_ctx *c)
{
	__u8 ver, after;
	__u64 or_t = 0, or_s = 0;
	__u32 k;

	if (v + 55 > n || zs_hex_in(buf, v, &ver, 2) || ver == 0xff)
		return -1;
	if (buf[(v + 2) & ZS_TC_MASK] != '-' || buf[(v + 35) & ZS_TC_MASK] != '-' ||
	    buf[(v + 52) & ZS_TC_MASK] != '-')
		return -1;
	if (zs_hex_in(buf, v + 3, c->trace_id, 32) || zs_hex_in(buf, v + 36, c->span_id, 16) ||
	    zs_hex_in(buf, v + 53, &c->flags, 2))
		return -1;
	/* what follows the 55 chars: end of value (OWS, CR) or, for a later
	 * version, a dash and more fields */
	after = v + 55 < n ? buf[(v + 55) & ZS_TC_MASK] : '\r';
	if (after != '\r' && after != '\n' && after != ' ' && after != '\t' &&
	    (ver == 0 || after != '-'))
		return -1;
	for (k = 0; k < 16; k++)
		or_t |= c->trace_id[k];
	for (k = 0; k < 8; k++)
		or_s |= c->span_id[k];
	if (!or_t || !or_s)
		return -1;
	if (ver != 0)
		c->flags &= 1;
	return 0;
}

/* Root sampling on a trace id: the low 8 bytes, as zs_sampler_decide(). */
static __always_inline int zs_ratio_sampled(const __u8 *trace_id, __u64 threshold)
{
	__u64 x = 0;
	__u32 k;

	for (k = 8; k < 16; k++)
		x = x << 8 | trace_id[k];
	return (x >> 11) < threshold;
}

/* tracestate to pass on, as the kernel keeps it per thread. */
struct zs_tstate {
	__u32 len;
	__u8 data[ZS_TS_MAX];
};

/* Writes "traceparent: 00-<trace>-<span>-<flags>\r\n" into out. */
/* Branch-free, so formatting adds no verifier states. */
static __always_inline __u8 zs_hexdigit(__u8 d)
{
	__s32 x = d;

	return (__u8)('0' + x + (((9 - x) >> 8) & ('a' - '0' - 10)));
}

static __always_inline void zs_tp_format(const struct zs_kernel_ctx *c, __u8 out[ZS_TP_HDR_LEN])
{
	__u64 name_lo = 0x7261706563617274ULL; /* "tracepar" */
	__u64 name_hi = 0x2d3030203a746e65ULL; /* "ent: 00-" */
	__u32 k;

	__builtin_memcpy(out, &name_lo, 8);
	__builtin_memcpy(out + 8, &name_hi, 8);
	for (k = 0; k < 16; k++) {
		out[16 + 2 * k] = zs_hexdigit(c->trace_id[k] >> 4);
		out[17 + 2 * k] = zs_hexdigit(c->trace_id[k] & 15);
	}
	out[48] = '-';
	for (k = 0; k < 8; k++) {
		out[49 + 2 * k] = zs_hexdigit(c->span_id[k] >> 4);
		out[50 + 2 * k] = zs_hexdigit(c->span_id[k] & 15);
	}
	out[65] = '-';
	out[66] = zs_hexdigit(c->flags >> 4);
	out[67] = zs_hexdigit(c->flags & 15);
	out[68] = '\r';
	out[69] = '\n';
}

/* The next 64 random bits of a per-CPU generator (splitmix64: the state
 * steps by the golden gamma, the output is its finalizer), salted with the
 * calling thread's id: two threads whose programs read the same state (one
 * preempted the other on its CPU) still get different ids. For trace and
 * span ids (maps.bpf.h's zs_random_id), which took a helper call per 4 bytes
 * before: six for a root request's trace and span. */
static __always_inline __u64 zs_id_next(__u64 *state, __u64 salt)
{
	__u64 z = *state + 0x9e3779b97f4a7c15ULL;

	*state = z;
	z ^= salt * 0xd1b54a32d192ed03ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A hash of a context but its check field: a copy whose check differs was
 * taken while the context was being written (maps.bpf.h's zs_ctx_get). */
static __always_inline __u32 zs_ctx_check(const struct zs_kernel_ctx *c)
{
	__u64 t0, t1, sp, h;
	__u32 w;

	__builtin_memcpy(&t0, c->trace_id, 8);
	__builtin_memcpy(&t1, c->trace_id + 8, 8);
	__builtin_memcpy(&sp, c->span_id, 8);
	w = (__u32)c->flags | (__u32)c->state << 8 | (__u32)c->via << 16 | (__u32)c->has_ts << 24;
	h = (t0 ^ (t1 << 17 | t1 >> 47) ^ (sp << 31 | sp >> 33) ^ w) * 0x9e3779b97f4a7c15ULL;
	return (__u32)(h >> 32);
}

/* Writes c into the thread_ctx entry e in place, check last. */
static __always_inline void zs_ctx_store(struct zs_kernel_ctx *e, const struct zs_kernel_ctx *c)
{
	__u32 check = zs_ctx_check(c);

	__builtin_memcpy(e->trace_id, c->trace_id, sizeof(e->trace_id));
	__builtin_memcpy(e->span_id, c->span_id, sizeof(e->span_id));
	e->flags = c->flags;
	e->state = c->state;
	e->via = c->via;
	e->has_ts = c->has_ts;
	asm volatile("" ::: "memory"); /* the compiler keeps check last */
	e->check = check;
}

#endif
