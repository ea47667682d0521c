/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* OTLP v1 protobuf encoding of spans (wire format written directly, field
 * numbers of proto/otlp.proto; protobuf-c only decodes the response). */
#ifndef ZS_OTLP_H
#define ZS_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pbwire.h"
#include "span.h"

#define ZS_VERSION "0.1.0"

/*
 * Spans' OTLP bytes (ScopeSpans.spans fields), encoded when each span ends,
 * on the thread that built it (its fields still in that CPU's cache), one
 * after another in one buffer: no allocation per span, and the export thread
 * only groups and copies bytes it reads in order. Per span: where its bytes
 * are and one reference to its resource (may be NULL).
 */
struct zs_otlp_entry {
	struct zs_resource *res;
	size_t off;
	size_t len;
};

struct zs_otlp_batch {
	struct zs_otlp_batch *next; /* queue link */
	size_t n, cap;		    /* entries used, allocated */
	struct zs_otlp_entry *ent;
	struct zs_pb bytes;
};

/* Encodes s at the end of b; -ENOMEM (b as it was) when out of memory. */
int zs_otlp_batch_add(struct zs_otlp_batch *b, const struct zs_span *s);
/* Empties b (drops its references), keeping its memory for the next spans. */
void zs_otlp_batch_clear(struct zs_otlp_batch *b);
/* Empties b and frees what it holds (not b itself). */
void zs_otlp_batch_fini(struct zs_otlp_batch *b);

/*
 * b's spans as one ExportTraceServiceRequest, one ResourceSpans per process.
 * extra: attributes added to every resource. Returns 0 and a malloc'd
 * buffer, or -ENOMEM.
 */
int zs_otlp_assemble(const struct zs_otlp_batch *b, const struct zs_kv *extra, int n_extra,
		     uint8_t **out, size_t *out_len);

/*
 * Encodes n spans as one ExportTraceServiceRequest, one ResourceSpans per
 * process. extra: attributes added to every resource (OTEL_RESOURCE_ATTRIBUTES
 * of the agent). Returns 0 and a malloc'd buffer, or -ENOMEM.
 */
int zs_otlp_encode_traces(struct zs_span *const *spans, size_t n, const struct zs_kv *extra,
			  int n_extra, uint8_t **out, size_t *out_len);

/* Decodes an ExportTraceServiceResponse; returns rejected_spans (0 if none or
 * unparseable) and copies the error message. */
int64_t zs_otlp_partial_success(const uint8_t *buf, size_t len, char *msg, size_t cap);

/* gzip (RFC 1952) of in. Returns 0 and a malloc'd buffer, or -1. */
int zs_gzip(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len);

#endif
