// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otlp.h"

#include "otlp.pb-c.h"
#include "otlp_build.h"
#include "pbwire.h"

#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Field numbers of proto/otlp.proto (the official OTLP v1 ones). */
enum {
	F_REQ_RESOURCE_SPANS = 1,
	F_RS_RESOURCE = 1,
	F_RS_SCOPE_SPANS = 2,
	F_RES_ATTRIBUTES = 1,
	F_SS_SCOPE = 1,
	F_SS_SPANS = 2,
	F_SCOPE_NAME = 1,
	F_SCOPE_VERSION = 2,
	F_SPAN_TRACE_ID = 1,
	F_SPAN_SPAN_ID = 2,
	F_SPAN_TRACE_STATE = 3,
	F_SPAN_PARENT_SPAN_ID = 4,
	F_SPAN_NAME = 5,
	F_SPAN_KIND = 6,
	F_SPAN_START = 7,
	F_SPAN_END = 8,
	F_SPAN_ATTRIBUTES = 9,
	F_SPAN_STATUS = 15,
	F_SPAN_FLAGS = 16,
	F_STATUS_CODE = 3,
	F_KV_KEY = 1,
	F_KV_VALUE = 2,
	F_ANY_STRING = 1,
	F_ANY_INT = 3,
};

/* A KeyValue's bytes up to its AnyValue's one field: the KeyValue's tag and
 * body length, the key, the AnyValue's tag and length (any). Returns where
 * the AnyValue's field goes. */
static inline __attribute__((always_inline)) uint8_t *
kv_head(uint8_t *p, uint32_t field, size_t body, const char *key, size_t kn, size_t any)
{
	p += zs_pb_put_varint(p, (uint64_t)field << 3 | ZS_PB_LEN);
	p += zs_pb_put_varint(p, body);
	*p++ = F_KV_KEY << 3 | ZS_PB_LEN;
	p += zs_pb_put_varint(p, kn);
	memcpy(p, key, kn);
	p += kn;
	*p++ = F_KV_VALUE << 3 | ZS_PB_LEN;
	p += zs_pb_put_varint(p, any);
	return p;
}

/* One KeyValue{key, AnyValue{string_value}} in field `field` of the open
 * message, its lengths computed up front (no nested begin/end); key has kn
 * bytes; empty values are skipped. */
static inline __attribute__((always_inline)) void
kv_strn(struct zs_pb *pb, uint32_t field, const char *key, size_t kn, const char *val)
{
	size_t vn, any, body;
	uint8_t *p;

	if (!val || !*val)
		return;
	vn = strlen(val);
	any = 1 + zs_pb_varint_len(vn) + vn;
	body = 1 + zs_pb_varint_len(kn) + kn + 1 + zs_pb_varint_len(any) + any;
	if (!zs_pb_reserve(pb, 15 + body))
		return;
	p = kv_head(pb->buf + pb->len, field, body, key, kn, any);
	*p++ = F_ANY_STRING << 3 | ZS_PB_LEN;
	p += zs_pb_put_varint(p, vn);
	memcpy(p, val, vn);
	pb->len = (size_t)(p + vn - pb->buf);
}

/* A literal key: its length known when compiling. */
#define KV_STR(pb, field, key, val) kv_strn(pb, field, key, sizeof(key) - 1, val)

/* One KeyValue{key, AnyValue{int_value}}, its lengths computed up front as in
 * kv_strn; key has kn bytes. A oneof member is written even when zero. */
static inline __attribute__((always_inline)) void kv_intn(struct zs_pb *pb, uint32_t field,
							  const char *key, size_t kn, int64_t val)
{
	size_t vn = zs_pb_varint_len((uint64_t)val), any = 1 + vn,
	       body = 1 + zs_pb_varint_len(kn) + kn + 1 + zs_pb_varint_len(any) + any;
	uint8_t *p;

	if (!zs_pb_reserve(pb, 15 + body))
		return;
	p = kv_head(pb->buf + pb->len, field, body, key, kn, any);
	*p++ = F_ANY_INT << 3 | ZS_PB_VARINT;
	p += zs_pb_put_varint(p, (uint64_t)val);
	pb->len = (size_t)(p - pb->buf);
}

#define KV_INT(pb, field, key, val) kv_intn(pb, field, key, sizeof(key) - 1, val)

static void res_sink_str(void *ctx, const char *key, const char *val)
{
	kv_strn(ctx, F_RES_ATTRIBUTES, key, strlen(key), val);
}

static void res_sink_int(void *ctx, const char *key, int64_t val)
{
	kv_intn(ctx, F_RES_ATTRIBUTES, key, strlen(key), val);
}

/* Appends n bytes of p at *at if they fit (out has room for the NUL). */
static void put(char *out, size_t cap, size_t *at, const char *p, size_t n)
{
	if (*at + n < cap) {
		memcpy(out + *at, p, n);
		*at += n;
	}
}

/* scheme://host:port/path, [host] for IPv6; no snprintf on the span path. */
static void url_full(char *out, size_t cap, const struct zs_span *s)
{
	bool v6 = strchr(s->server_address, ':') != NULL;
	char port[8];
	size_t at = 0, n = sizeof(port);
	unsigned int v = s->server_port;

	do {
		port[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(out, cap, &at, s->scheme, strlen(s->scheme));
	put(out, cap, &at, v6 ? "://[" : "://", v6 ? 4 : 3);
	put(out, cap, &at, s->server_address, strlen(s->server_address));
	put(out, cap, &at, v6 ? "]:" : ":", v6 ? 2 : 1);
	put(out, cap, &at, port + n, sizeof(port) - n);
	put(out, cap, &at, s->path, strlen(s->path));
	out[at] = 0;
}

static void put_span(struct zs_pb *pb, const struct zs_span *s)
{
	size_t m = zs_pb_begin2(pb, F_SS_SPANS), st;

	zs_pb_bytes(pb, F_SPAN_TRACE_ID, s->trace_id, 16);
	zs_pb_bytes(pb, F_SPAN_SPAN_ID, s->span_id, 8);
	zs_pb_str(pb, F_SPAN_TRACE_STATE, s->tracestate);
	if (s->has_parent)
		zs_pb_bytes(pb, F_SPAN_PARENT_SPAN_ID, s->parent_span_id, 8);
	zs_pb_str(pb, F_SPAN_NAME, s->name);
	zs_pb_uint(pb, F_SPAN_KIND, s->kind);
	zs_pb_fixed64(pb, F_SPAN_START, s->start_ns);
	zs_pb_fixed64(pb, F_SPAN_END, s->end_ns >= s->start_ns ? s->end_ns : s->start_ns);

	KV_STR(pb, F_SPAN_ATTRIBUTES, "http.request.method", s->method);
	KV_STR(pb, F_SPAN_ATTRIBUTES, "http.request.method_original", s->method_original);
	if (s->status)
		KV_INT(pb, F_SPAN_ATTRIBUTES, "http.response.status_code", s->status);
	KV_STR(pb, F_SPAN_ATTRIBUTES, "url.path", s->path);
	KV_STR(pb, F_SPAN_ATTRIBUTES, "url.query", s->query);
	KV_STR(pb, F_SPAN_ATTRIBUTES, "url.scheme", s->scheme);
	if (s->kind == ZS_KIND_SERVER)
		KV_STR(pb, F_SPAN_ATTRIBUTES, "http.route", s->route);
	/* HTTP semantic conventions: network.protocol.name only when not "http",
	 * network.transport is opt-in; both would be the same on every span. */
	KV_STR(pb, F_SPAN_ATTRIBUTES, "network.protocol.version", s->version);
	KV_STR(pb, F_SPAN_ATTRIBUTES, "server.address", s->server_address);
	if (s->server_port)
		KV_INT(pb, F_SPAN_ATTRIBUTES, "server.port", s->server_port);
	KV_STR(pb, F_SPAN_ATTRIBUTES, "client.address", s->client_address);
	KV_STR(pb, F_SPAN_ATTRIBUTES, "network.peer.address", s->peer_address);
	if (s->peer_port)
		KV_INT(pb, F_SPAN_ATTRIBUTES, "network.peer.port", s->peer_port);
	KV_STR(pb, F_SPAN_ATTRIBUTES, "user_agent.original", s->user_agent);
	if (s->kind == ZS_KIND_CLIENT && s->server_address[0]) {
		char full[ZS_HTTP_VALUE_MAX + ZS_HTTP_TARGET_MAX + 32];

		url_full(full, sizeof(full), s);
		KV_STR(pb, F_SPAN_ATTRIBUTES, "url.full", full);
	}
	KV_STR(pb, F_SPAN_ATTRIBUTES, "error.type", s->error_type);
	st = zs_pb_begin(pb, F_SPAN_STATUS);
	if (s->error)
		zs_pb_uint(pb, F_STATUS_CODE, ZS__OTLP__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
	zs_pb_end(pb, st);
	zs_pb_fixed32(pb, F_SPAN_FLAGS, s->trace_flags);
	zs_pb_end2(pb, m);
}

int zs_otlp_batch_add(struct zs_otlp_batch *b, const struct zs_span *s)
{
	size_t off = b->bytes.len;
	struct zs_otlp_entry *e;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;

		e = realloc(b->ent, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		b->ent = e;
		b->cap = cap;
	}
	put_span(&b->bytes, s);
	if (b->bytes.failed) {
		/* a failed growth leaves the buffer as it was */
		b->bytes.failed = false;
		b->bytes.len = off;
		return -ENOMEM;
	}
	e = &b->ent[b->n++];
	e->off = off;
	e->len = b->bytes.len - off;
	e->res = s->res;
	if (e->res)
		zs_resource_ref(e->res);
	return 0;
}

void zs_otlp_batch_clear(struct zs_otlp_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		zs_resource_unref(b->ent[i].res);
	b->n = 0;
	b->bytes.len = 0;
}

void zs_otlp_batch_fini(struct zs_otlp_batch *b)
{
	zs_otlp_batch_clear(b);
	free(b->ent);
	b->ent = NULL;
	b->cap = 0;
	zs_pb_free(&b->bytes);
}

int zs_otlp_assemble(const struct zs_otlp_batch *b, const struct zs_kv *extra, int n_extra,
		     uint8_t **out, size_t *out_len)
{
	const struct zs_otlp_entry *spans = b->ent;
	size_t n = b->n;
	const struct zs_attr_sink res_sink = { res_sink_str, res_sink_int, NULL };
	struct zs_pb pb = { 0 }, head = { 0 };
	/* spans grouped by resource, in order of first appearance (counting sort) */
	size_t *group = malloc((n ? n : 1) * sizeof(*group));
	size_t *start = malloc((n + 1) * sizeof(*start));
	size_t *order = malloc((n ? n : 1) * sizeof(*order));
	size_t *gbytes = calloc(n ? n : 1, sizeof(*gbytes));
	const struct zs_resource **keys = malloc((n ? n : 1) * sizeof(*keys));
	size_t n_rs = 0, i, j, g, bytes = 0;
	int rc = -ENOMEM;

	if (!group || !start || !order || !gbytes || !keys)
		goto out;
	for (i = 0; i < n; i++) {
		const struct zs_resource *key = spans[i].res;

		bytes += spans[i].len;
		/* batches hold few processes, and runs of one: try the last one first */
		if (n_rs && keys[n_rs - 1] == key) {
			j = n_rs - 1;
		} else {
			for (j = 0; j < n_rs && keys[j] != key; j++)
				;
			if (j == n_rs)
				keys[n_rs++] = key;
		}
		group[i] = j;
		gbytes[j] += spans[i].len;
	}
	memset(start, 0, (n + 1) * sizeof(*start));
	for (i = 0; i < n; i++)
		start[group[i] + 1]++;
	for (g = 0; g < n_rs; g++)
		start[g + 1] += start[g];
	for (i = 0; i < n; i++)
		order[start[group[i]]++] = i;
	/* start[g] is now the end of group g; group g begins where g - 1 ends */

	/* the spans' bytes and, per process, its resource: one allocation */
	if (!zs_pb_reserve(&pb, bytes + n_rs * 2048 + 64))
		goto out;
	for (g = 0, i = 0; g < n_rs; g++) {
		struct zs_attr_sink sink = res_sink;
		size_t res, sc, res_len, ss_len;

		/* Resource and scope first, apart: with the spans' sizes known, the
		 * lengths are written before the bodies and nothing is moved. */
		head.len = 0;
		sink.ctx = &head;
		res = zs_pb_begin(&head, F_RS_RESOURCE);
		zs_resource_attrs(keys[g], extra, n_extra, true, &sink);
		zs_pb_end(&head, res);
		res_len = head.len;
		sc = zs_pb_begin(&head, F_SS_SCOPE);
		zs_pb_str(&head, F_SCOPE_NAME, "zerospan");
		zs_pb_str(&head, F_SCOPE_VERSION, ZS_VERSION);
		zs_pb_end(&head, sc);
		if (head.failed)
			goto out;
		ss_len = head.len - res_len + gbytes[g];
		zs_pb_begin_len(
			&pb, F_REQ_RESOURCE_SPANS,
			res_len + zs_pb_varint_len((uint64_t)F_RS_SCOPE_SPANS << 3 | ZS_PB_LEN) +
				zs_pb_varint_len(ss_len) + ss_len);
		zs_pb_raw(&pb, head.buf, res_len);
		zs_pb_begin_len(&pb, F_RS_SCOPE_SPANS, ss_len);
		zs_pb_raw(&pb, head.buf + res_len, head.len - res_len);
		for (; i < start[g]; i++)
			zs_pb_raw(&pb, b->bytes.buf + spans[order[i]].off, spans[order[i]].len);
	}
	if (pb.failed)
		goto out;
	*out = pb.buf;
	*out_len = pb.len;
	pb.buf = NULL;
	rc = 0;
out:
	zs_pb_free(&pb);
	zs_pb_free(&head);
	free(group);
	free(start);
	free(order);
	free(gbytes);
	free(keys);
	return rc;
}

int zs_otlp_encode_traces(struct zs_span *const *spans, size_t n, const struct zs_kv *extra,
			  int n_extra, uint8_t **out, size_t *out_len)
{
	struct zs_otlp_batch b = { 0 };
	size_t i;
	int rc = 0;

	for (i = 0; i < n && !rc; i++)
		rc = zs_otlp_batch_add(&b, spans[i]);
	if (!rc)
		rc = zs_otlp_assemble(&b, extra, n_extra, out, out_len);
	zs_otlp_batch_fini(&b);
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
