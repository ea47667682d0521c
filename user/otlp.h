/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* OTLP v1 protobuf encoding of spans (wire format written directly, field
 * numbers of proto/otlp.proto; protobuf-c only decodes the response). */
#ifndef ZS_OTLP_H
#define ZS_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "span.h"

#define ZS_VERSION "0.1.0"

/*
 * One span's OTLP bytes (a ScopeSpans.spans field), encoded when the span
 * ends, on the thread that built it (its fields still in that CPU's cache),
 * so the export thread only groups and copies bytes. Queue link and one
 * reference to the span's resource (may be NULL).
 */
struct zs_otlp_span {
	struct zs_otlp_span *next;
	struct zs_resource *res;
	uint32_t len;
	uint8_t bytes[];
};

/* Encodes s; NULL when out of memory. */
struct zs_otlp_span *zs_otlp_span_new(const struct zs_span *s);
void zs_otlp_span_free(struct zs_otlp_span *e);

/*
 * n encoded spans as one ExportTraceServiceRequest, one ResourceSpans per
 * process. extra: attributes added to every resource. Returns 0 and a
 * malloc'd buffer, or -ENOMEM.
 */
int zs_otlp_assemble(struct zs_otlp_span *const *spans, size_t n, const struct zs_kv *extra,
		     int n_extra, uint8_t **out, size_t *out_len);

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
