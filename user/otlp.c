// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otlp.h"

#include "otlp.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* All protobuf-c structs of one request come from one arena, freed at once. */
struct arena {
	struct block {
		struct block *next;
		size_t used, cap;
		max_align_t data[];
	} * head;
	int failed;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	struct block *b = a->head;

	n = (n + 15) & ~(size_t)15;
	if (!b || b->used + n > b->cap) {
		size_t cap = n > 65536 ? n : 65536;

		b = malloc(sizeof(*b) + cap);
		if (!b) {
			a->failed = 1;
			return NULL;
		}
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	b->used += n;
	return memset((char *)b->data + b->used - n, 0, n);
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct block *nx = a->head->next;

		free(a->head);
		a->head = nx;
	}
}

static char *arena_str(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(a, n);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* A KeyValue list of fixed capacity. Keys and values are not copied: keys
 * are literals, values live in the spans, resources and config, which all
 * outlive the encoding (the exporter frees spans after the request). */
struct kvs {
	Zs__Otlp__KeyValue **v;
	size_t n, cap;
};

static Zs__Otlp__KeyValue *kv_new(struct arena *a, struct kvs *l, const char *key)
{
	Zs__Otlp__KeyValue *kv;
	Zs__Otlp__AnyValue *av;

	if (l->n == l->cap)
		return NULL;
	kv = arena_alloc(a, sizeof(*kv));
	av = arena_alloc(a, sizeof(*av));
	if (!kv || !av)
		return NULL;
	zs__otlp__key_value__init(kv);
	zs__otlp__any_value__init(av);
	kv->key = (char *)key;
	kv->value = av;
	l->v[l->n++] = kv;
	return kv;
}

static void kv_str(struct arena *a, struct kvs *l, const char *key, const char *val)
{
	Zs__Otlp__KeyValue *kv;

	if (!val || !*val)
		return;
	kv = kv_new(a, l, key);
	if (!kv)
		return;
	kv->value->value_case = ZS__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
	kv->value->string_value = (char *)val;
}

static void kv_int(struct arena *a, struct kvs *l, const char *key, int64_t val)
{
	Zs__Otlp__KeyValue *kv = kv_new(a, l, key);

	if (!kv)
		return;
	kv->value->value_case = ZS__OTLP__ANY_VALUE__VALUE_INT_VALUE;
	kv->value->int_value = val;
}

static int kvs_init(struct arena *a, struct kvs *l, size_t cap)
{
	l->v = arena_alloc(a, cap * sizeof(*l->v));
	l->n = 0;
	l->cap = l->v ? cap : 0;
	return l->v ? 0 : -1;
}

static bool kvs_has(const struct kvs *l, const char *key)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i]->key, key) == 0)
			return true;
	return false;
}

static Zs__Otlp__Resource *make_resource(struct arena *a, const struct zs_resource *r,
					 const struct zs_kv *extra, int n_extra)
{
	Zs__Otlp__Resource *res = arena_alloc(a, sizeof(*res));
	struct kvs l;
	int i;

	if (!res || kvs_init(a, &l, 16 + ZS_RES_EXTRA + (size_t)n_extra))
		return NULL;
	zs__otlp__resource__init(res);
	kv_str(a, &l, "service.name", r ? r->service_name : "unknown_service");
	if (r) {
		kv_int(a, &l, "process.pid", r->pid);
		kv_str(a, &l, "process.executable.name", r->exe_name);
		kv_str(a, &l, "process.executable.path", r->exe_path);
		kv_str(a, &l, "process.command_line", r->cmdline);
	}
	kv_str(a, &l, "host.name", zs_host_name());
	kv_str(a, &l, "telemetry.sdk.name", "zerospan");
	kv_str(a, &l, "telemetry.sdk.language", "c");
	kv_str(a, &l, "telemetry.sdk.version", ZS_VERSION);
	/* The process's own OTEL_RESOURCE_ATTRIBUTES, then the agent's. */
	for (i = 0; r && i < r->n_extra; i++)
		if (!kvs_has(&l, r->extra[i].key))
			kv_str(a, &l, r->extra[i].key, r->extra[i].value);
	for (i = 0; i < n_extra; i++)
		if (!kvs_has(&l, extra[i].key))
			kv_str(a, &l, extra[i].key, extra[i].value);
	res->attributes = l.v;
	res->n_attributes = l.n;
	return res;
}

static Zs__Otlp__Span *make_span(struct arena *a, const struct zs_span *s)
{
	Zs__Otlp__Span *p = arena_alloc(a, sizeof(*p));
	Zs__Otlp__Status *st = arena_alloc(a, sizeof(*st));
	uint8_t *ids = arena_alloc(a, 32);
	struct kvs l;

	if (!p || !st || !ids || kvs_init(a, &l, 24))
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

	kv_str(a, &l, "http.request.method", s->method);
	kv_str(a, &l, "http.request.method_original", s->method_original);
	if (s->status)
		kv_int(a, &l, "http.response.status_code", s->status);
	kv_str(a, &l, "url.path", s->path);
	kv_str(a, &l, "url.query", s->query);
	kv_str(a, &l, "url.scheme", s->scheme);
	if (s->kind == ZS_KIND_SERVER)
		kv_str(a, &l, "http.route", s->route);
	kv_str(a, &l, "network.protocol.name", "http");
	kv_str(a, &l, "network.protocol.version", s->version);
	kv_str(a, &l, "network.transport", "tcp");
	kv_str(a, &l, "server.address", s->server_address);
	if (s->server_port)
		kv_int(a, &l, "server.port", s->server_port);
	kv_str(a, &l, "client.address", s->client_address);
	kv_str(a, &l, "network.peer.address", s->peer_address);
	if (s->peer_port)
		kv_int(a, &l, "network.peer.port", s->peer_port);
	kv_str(a, &l, "user_agent.original", s->user_agent);
	if (s->kind == ZS_KIND_CLIENT && s->server_address[0]) {
		char full[ZS_HTTP_VALUE_MAX + ZS_HTTP_TARGET_MAX + 32];
		bool v6 = strchr(s->server_address, ':') != NULL;

		snprintf(full, sizeof(full), "%s://%s%s%s:%u%s", s->scheme, v6 ? "[" : "",
			 s->server_address, v6 ? "]" : "", s->server_port, s->path);
		kv_str(a, &l, "url.full", arena_str(a, full));
	}
	kv_str(a, &l, "error.type", s->error_type);
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
	struct arena a = { 0 };
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
	rs = arena_alloc(&a, (n ? n : 1) * sizeof(*rs));
	keys = arena_alloc(&a, (n ? n : 1) * sizeof(*keys));
	if (!rs || !keys)
		goto out;
	for (i = 0; i < n; i++) {
		const struct zs_resource *key = spans[i]->res;
		Zs__Otlp__ScopeSpans *ss;

		for (j = 0; j < n_rs && keys[j] != key; j++)
			;
		if (j == n_rs) {
			Zs__Otlp__ResourceSpans *r = arena_alloc(&a, sizeof(*r));

			ss = arena_alloc(&a, sizeof(*ss));
			if (!r || !ss)
				goto out;
			zs__otlp__resource_spans__init(r);
			zs__otlp__scope_spans__init(ss);
			ss->scope = &scope;
			/* room for every span of the batch: counted below */
			ss->spans = arena_alloc(&a, n * sizeof(*ss->spans));
			r->scope_spans = arena_alloc(&a, sizeof(*r->scope_spans));
			r->resource = make_resource(&a, key, extra, n_extra);
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
	arena_free(&a);
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
