// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otlp.h"

#include "otlp.pb-c.h"
#include "otlp_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static Zs__Otlp__Span *make_span(struct zs_arena *a, const struct zs_span *s)
{
	Zs__Otlp__Span *p = zs_arena_alloc(a, sizeof(*p));
	Zs__Otlp__Status *st = zs_arena_alloc(a, sizeof(*st));
	uint8_t *ids = zs_arena_alloc(a, 32);
	struct zs_kvs l;

	if (!p || !st || !ids || zs_kvs_init(a, &l, 24))
		return NULL;
	zs__otlp__span__init(p);
	zs__otlp__status__init(st);
	memcpy(ids, s->trace_id, 16);
	memcpy(ids + 16, s->span_id, 8);
	p->trace_id = (ProtobufCBinaryData){ 16, ids };
	p->span_id = (ProtobufCBinaryData){ 8, ids + 16 };
	if (s->has_parent) {
		memcpy(ids + 24, s->parent_span_id, 8);
		p->parent_span_id = (ProtobufCBinaryData){ 8, ids + 24 };
	}
	if (s->tracestate[0])
		p->trace_state = (char *)s->tracestate;
	p->flags = s->trace_flags;
	p->name = (char *)s->name;
	p->kind = (Zs__Otlp__Span__SpanKind)s->kind;
	p->start_time_unix_nano = s->start_ns;
	p->end_time_unix_nano = s->end_ns >= s->start_ns ? s->end_ns : s->start_ns;

	zs_kv_str(a, &l, "http.request.method", s->method);
	zs_kv_str(a, &l, "http.request.method_original", s->method_original);
	if (s->status)
		zs_kv_int(a, &l, "http.response.status_code", s->status);
	zs_kv_str(a, &l, "url.path", s->path);
	zs_kv_str(a, &l, "url.query", s->query);
	zs_kv_str(a, &l, "url.scheme", s->scheme);
	if (s->kind == ZS_KIND_SERVER)
		zs_kv_str(a, &l, "http.route", s->route);
	zs_kv_str(a, &l, "network.protocol.name", "http");
	zs_kv_str(a, &l, "network.protocol.version", s->version);
	zs_kv_str(a, &l, "network.transport", "tcp");
	zs_kv_str(a, &l, "server.address", s->server_address);
	if (s->server_port)
		zs_kv_int(a, &l, "server.port", s->server_port);
	zs_kv_str(a, &l, "client.address", s->client_address);
	zs_kv_str(a, &l, "network.peer.address", s->peer_address);
	if (s->peer_port)
		zs_kv_int(a, &l, "network.peer.port", s->peer_port);
	zs_kv_str(a, &l, "user_agent.original", s->user_agent);
	if (s->kind == ZS_KIND_CLIENT && s->server_address[0]) {
		char full[ZS_HTTP_VALUE_MAX + ZS_HTTP_TARGET_MAX + 32];
		bool v6 = strchr(s->server_address, ':') != NULL;

		snprintf(full, sizeof(full), "%s://%s%s%s:%u%s", s->scheme, v6 ? "[" : "",
			 s->server_address, v6 ? "]" : "", s->server_port, s->path);
		zs_kv_str(a, &l, "url.full", zs_arena_str(a, full));
	}
	zs_kv_str(a, &l, "error.type", s->error_type);
	p->attributes = l.v;
	p->n_attributes = l.n;
	st->code = s->error ? ZS__OTLP__STATUS__STATUS_CODE__STATUS_CODE_ERROR
			    : ZS__OTLP__STATUS__STATUS_CODE__STATUS_CODE_UNSET;
	p->status = st;
	return p;
}

int zs_otlp_encode_traces(struct zs_span *const *spans, size_t n, const struct zs_kv *extra,
			  int n_extra, uint8_t **out, size_t *out_len)
{
	struct zs_arena a = { 0 };
	Zs__Otlp__ExportTraceServiceRequest req;
	Zs__Otlp__ResourceSpans **rs;
	const struct zs_resource **keys;
	Zs__Otlp__InstrumentationScope scope;
	size_t n_rs = 0, i, j;
	int rc = -ENOMEM;

	zs__otlp__export_trace_service_request__init(&req);
	zs__otlp__instrumentation_scope__init(&scope);
	scope.name = "zerospan";
	scope.version = ZS_VERSION;
	rs = zs_arena_alloc(&a, (n ? n : 1) * sizeof(*rs));
	keys = zs_arena_alloc(&a, (n ? n : 1) * sizeof(*keys));
	if (!rs || !keys)
		goto out;
	for (i = 0; i < n; i++) {
		const struct zs_resource *key = spans[i]->res;
		Zs__Otlp__ScopeSpans *ss;

		for (j = 0; j < n_rs && keys[j] != key; j++)
			;
		if (j == n_rs) {
			Zs__Otlp__ResourceSpans *r = zs_arena_alloc(&a, sizeof(*r));

			ss = zs_arena_alloc(&a, sizeof(*ss));
			if (!r || !ss)
				goto out;
			zs__otlp__resource_spans__init(r);
			zs__otlp__scope_spans__init(ss);
			ss->scope = &scope;
			/* room for every span of the batch: counted below */
			ss->spans = zs_arena_alloc(&a, n * sizeof(*ss->spans));
			r->scope_spans = zs_arena_alloc(&a, sizeof(*r->scope_spans));
			r->resource = zs_otlp_resource(&a, key, extra, n_extra);
			if (!ss->spans || !r->scope_spans || !r->resource)
				goto out;
			r->scope_spans[0] = ss;
			r->n_scope_spans = 1;
			keys[n_rs] = key;
			rs[n_rs++] = r;
		}
		ss = rs[j]->scope_spans[0];
		ss->spans[ss->n_spans] = make_span(&a, spans[i]);
		if (!ss->spans[ss->n_spans])
			goto out;
		ss->n_spans++;
	}
	req.resource_spans = rs;
	req.n_resource_spans = n_rs;
	if (a.failed)
		goto out;
	*out_len = zs__otlp__export_trace_service_request__get_packed_size(&req);
	*out = malloc(*out_len ? *out_len : 1);
	if (!*out)
		goto out;
	zs__otlp__export_trace_service_request__pack(&req, *out);
	rc = 0;
out:
	zs_arena_free(&a);
	return rc;
}

int64_t zs_otlp_partial_success(const uint8_t *buf, size_t len, char *msg, size_t cap)
{
	Zs__Otlp__ExportTraceServiceResponse *r;
	int64_t rejected = 0;

	msg[0] = 0;
	if (!len)
		return 0;
	r = zs__otlp__export_trace_service_response__unpack(NULL, len, buf);
	if (!r)
		return 0;
	if (r->partial_success) {
		rejected = r->partial_success->rejected_spans;
		if (r->partial_success->error_message)
			snprintf(msg, cap, "%s", r->partial_success->error_message);
	}
	zs__otlp__export_trace_service_response__free_unpacked(r, NULL);
	return rejected;
}

int zs_gzip(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len)
{
	z_stream z;
	size_t cap = n + n / 1000 + 64;
	int rc;

	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: gzip wrapper. Level 1: span batches are repetitive
	 * and compress well at the fastest level; level 6 cost the agent 3x the CPU
	 * for a few percent fewer bytes (docs/BENCHMARKS.md). */
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	cap = deflateBound(&z, n);
	*out = malloc(cap);
	if (!*out) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
