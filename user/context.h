/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Trace context on the wire: W3C Trace Context (`traceparent`, `tracestate`)
 * and B3 (single `b3` header, multi `X-B3-*` headers). Parsing follows the
 * W3C spec exactly: what it calls invalid is rejected, and the caller starts
 * a new trace.
 */
#ifndef ZS_CONTEXT_H
#define ZS_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZS_FLAG_SAMPLED 0x01

struct zs_trace_ctx {
	uint8_t trace_id[16];
	uint8_t span_id[8]; /* the sender's span: our parent */
	uint8_t flags;	    /* W3C trace-flags (bit 0: sampled) */
};

/* Parses a traceparent value. Returns 0, or -1 when the spec says the header
 * is invalid (bad version, length, uppercase or non-hex, all-zero ids). */
int zs_traceparent_parse(const char *v, size_t len, struct zs_trace_ctx *out);

/* Writes "00-<trace>-<span>-<flags>" (55 chars + NUL) into out[56]. */
void zs_traceparent_format(const struct zs_trace_ctx *c, char out[56]);

/* Parses a single `b3` header ("{trace}-{span}[-{sampled}[-{parent}]]";
 * a lone "0"/"d" carries a decision but no ids and is rejected here).
 * 64-bit trace ids are zero-extended on the left. Returns 0 or -1. */
int zs_b3_single_parse(const char *v, struct zs_trace_ctx *out);

/* Parses X-B3-TraceId / X-B3-SpanId / X-B3-Sampled / X-B3-Flags values
 * (empty strings when absent). Returns 0 or -1. */
int zs_b3_multi_parse(const char *trace, const char *span, const char *sampled, const char *flags,
		      struct zs_trace_ctx *out);

/* tracestate (the combined value of every tracestate header): true when it
 * is a list of at most 32 well-formed members, so passing it on is safe. */
bool zs_tracestate_valid(const char *v);

#endif
