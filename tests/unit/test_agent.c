// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the agent's pure parts: config, events validation, spans,
 * OTLP encoding, gzip, Retry-After, console format. */
#include "config.h"
#include "conn.h"
#include "events.h"
#include "export.h"
#include "metrics.h"
#include "otlp.h"
#include "otlp.pb-c.h"
#include "print.h"
#include "clock.h"
#include "procinfo.h"
#include "proxy_proto.h"
#include "span.h"
#include "zerospan_abi.h"
#include "zs_test.h"

#include <stdlib.h>
#include <zlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <ftw.h>
#include <sys/stat.h>

static void test_config(void)
{
	struct zs_config c;
	char err[256];
	char *env1[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318/",
			 "OTEL_EXPORTER_OTLP_HEADERS=api-key=abc%20def, x-tenant = t1",
			 "OTEL_BSP_SCHEDULE_DELAY=250",
			 "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod,team=core", NULL };
	char *env2[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=http://a:4318",
			 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://b/custom/path", NULL };
	char *bad[] = { "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=0", NULL };
	char *argv_ok[] = { "zerospan",	   "--pid=12",	  "--pid",	  "13",
			    "--exe=nginx", "--port=8080", "--print=json", "--capture-size=4096",
			    NULL };
	char *argv_bad[] = { "zerospan", "--ringbuf-mb=3", NULL };

	CHECK(zs_config_from_env(&c, env1, err, sizeof(err)) == 0, "%s", err);
	CHECK_STR(c.traces_url, "http://collector:4318/v1/traces");
	CHECK(c.n_headers == 2, "headers %d", c.n_headers);
	CHECK_STR(c.headers[0].key, "api-key");
	CHECK_STR(c.headers[0].value, "abc def");
	CHECK_STR(c.headers[1].key, "x-tenant");
	CHECK_STR(c.headers[1].value, "t1");
	CHECK(c.bsp_delay_ms == 250, "delay");
	CHECK(!c.gzip && c.ringbuf_mb == 4, "defaults: no compression, 4 MiB ring");
	CHECK(c.n_res_attrs == 2 && strcmp(c.res_attrs[1].value, "core") == 0, "resource attrs");
	CHECK(zs_config_from_env(&c, env2, err, sizeof(err)) == 0, "%s", err);
	CHECK_STR(c.traces_url, "https://b/custom/path");
	CHECK(zs_config_from_env(&c, (char *[]){ "OTEL_EXPORTER_OTLP_COMPRESSION=gzip", NULL }, err,
				 sizeof(err)) == 0 &&
		      c.gzip,
	      "gzip asked for");
	CHECK(!c.send_time_syscalls, "sends timed by tcp_sendmsg_locked where it exists");
	CHECK(zs_config_from_env(&c, (char *[]){ "ZEROSPAN_SEND_TIME=syscalls", NULL }, err,
				 sizeof(err)) == 0 &&
		      c.send_time_syscalls,
	      "syscall send times asked for");
	CHECK(zs_config_from_env(&c, (char *[]){ "ZEROSPAN_SEND_TIME=fentry", NULL }, err,
				 sizeof(err)) == 0 &&
		      c.send_time_fentry && !c.send_time_syscalls,
	      "fentry send times asked for");
	CHECK(zs_config_from_env(&c, (char *[]){ "ZEROSPAN_SEND_TIME=soon", NULL }, err,
				 sizeof(err)) == -1 &&
		      strstr(err, "ZEROSPAN_SEND_TIME 'soon'") != NULL,
	      "%s", err);
	CHECK(zs_config_from_env(&c, bad, err, sizeof(err)) == -1, "batch 0 accepted");
	CHECK(strstr(err, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE") != NULL, "%s", err);

	zs_config_from_env(&c, (char *[]){ NULL }, err, sizeof(err));
	CHECK(zs_config_from_args(&c, 8, argv_ok, err, sizeof(err)) == 0, "%s", err);
	CHECK(c.n_pids == 2 && c.pids[1] == 13, "pids");
	CHECK(c.n_exes == 1 && strcmp(c.exes[0], "nginx") == 0, "exes");
	CHECK(c.n_ports == 1 && c.ports[0] == 8080, "ports");
	CHECK(c.print == ZS_PRINT_JSON && c.capture_size == 4096, "print/capture");
	zs_config_from_env(&c, (char *[]){ NULL }, err, sizeof(err));
	CHECK(zs_config_from_args(&c, 2, argv_bad, err, sizeof(err)) == -1, "ringbuf 3 accepted");
	CHECK(strstr(err, "ringbuf-mb") != NULL, "%s", err);
	/* every bad value names its own flag, wherever it sits in the table */
	{
		static const char *const flags[] = { "--max-routes", "--k8s-max-containers",
						     "--stats-interval", "--max-conns" };
		char arg[64];
		size_t i;

		for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
			snprintf(arg, sizeof(arg), "%s=0x", flags[i]);
			zs_config_from_env(&c, (char *[]){ NULL }, err, sizeof(err));
			CHECK(zs_config_from_args(&c, 2, (char *[]){ "zerospan", arg, NULL }, err,
						  sizeof(err)) == -1,
			      "%s accepted", arg);
			CHECK(strstr(err, flags[i] + 2) != NULL, "%s: %s", arg, err);
		}
	}
	/* Kubernetes defaults from the pod's environment */
	zs_config_from_env(&c,
			   (char *[]){ "KUBERNETES_SERVICE_HOST=fd00::1",
				       "KUBERNETES_SERVICE_PORT=6443", "NODE_NAME=node-7", NULL },
			   err, sizeof(err));
	CHECK_STR(c.k8s_api, "https://[fd00::1]:6443");
	CHECK_STR(c.k8s_node, "node-7");
	CHECK(c.k8s == ZS_K8S_AUTO && c.k8s_max_containers == 4096, "k8s defaults");
	CHECK(zs_config_from_args(&c, 2, (char *[]){ "zerospan", "--k8s=maybe", NULL }, err,
				  sizeof(err)) == -1 &&
		      strstr(err, "--k8s") != NULL,
	      "%s", err);
	zs_config_from_env(&c, (char *[]){ NULL }, err, sizeof(err));
	zs_config_from_args(&c, 1, (char *[]){ "zerospan", NULL }, err, sizeof(err));
	CHECK(c.print == ZS_PRINT_TEXT, "no endpoint: spans printed as text by default");
}

static void test_events_validate(void)
{
	uint8_t buf[sizeof(struct zs_data_event) + 64] = { 0 };
	struct zs_data_event *ev = (void *)buf;
	struct zs_conn_event ce = { 0 };

	ev->hdr.type = ZS_EV_DATA;
	ev->hdr.size = sizeof(*ev) + 10;
	ev->cap_len = 10;
	ev->len = 100;
	CHECK(zs_events_validate(buf, sizeof(*ev) + 10) == ZS_EV_DATA, "valid data event");
	CHECK(zs_events_validate(buf, sizeof(*ev) + 11) == -1, "size mismatch accepted");
	ev->cap_len = 200;
	ev->hdr.size = sizeof(*ev) + 200;
	CHECK(zs_events_validate(buf, sizeof(*ev) + 200) == -1, "cap_len > len accepted");
	ev->cap_len = 10;
	ev->hdr.size = sizeof(*ev) + 10;
	ev->tail_len = 17;
	CHECK(zs_events_validate(buf, sizeof(*ev) + 10) == -1, "tail_len > 16 accepted");
	CHECK(zs_events_validate(buf, 3) == -1, "short record accepted");
	ce.hdr.type = ZS_EV_CONN;
	ce.hdr.size = sizeof(ce);
	CHECK(zs_events_validate(&ce, sizeof(ce)) == ZS_EV_CONN, "conn event");
	ce.hdr.type = 99;
	CHECK(zs_events_validate(&ce, sizeof(ce)) == -1, "unknown type accepted");
}

static struct zs_span *mk_span(struct zs_resource *r, int status, uint8_t kind)
{
	struct zs_span *s = calloc(1, sizeof(*s));

	s->kind = kind;
	zs_ids_random(s->trace_id, 16);
	zs_ids_random(s->span_id, 8);
	zs_span_set_method(s, "GET");
	zs_span_set_target(s, "/users/42?token=secret", false);
	zs_span_set_status(s, status);
	s->start_ns = 1700000000000000000ULL;
	s->end_ns = s->start_ns + 1500000;
	snprintf(s->scheme, sizeof(s->scheme), "http");
	snprintf(s->server_address, sizeof(s->server_address), "::1");
	s->server_port = 8080;
	if (r) {
		zs_resource_ref(r);
		s->res = r;
	}
	return s;
}

static void test_spans_and_otlp(void)
{
	struct zs_resource *r1 = calloc(1, sizeof(*r1)), *r2 = calloc(1, sizeof(*r2));
	struct zs_span *spans[3];
	struct zs_kv extra[1] = { { "deployment.environment", "test" } };
	uint8_t *buf = NULL, *gz = NULL;
	size_t len = 0, gz_len = 0;
	Zs__Otlp__ExportTraceServiceRequest *req;
	int i;

	atomic_store(&r1->refs, 1);
	atomic_store(&r2->refs, 1);
	r1->pid = 1;
	r2->pid = 2;
	snprintf(r1->service_name, sizeof(r1->service_name), "front");
	snprintf(r2->service_name, sizeof(r2->service_name), "back");
	spans[0] = mk_span(r1, 200, ZS_KIND_SERVER);
	spans[1] = mk_span(r2, 503, ZS_KIND_SERVER);
	spans[2] = mk_span(r1, 404, ZS_KIND_CLIENT);
	CHECK_STR(spans[0]->path, "/users/42");
	CHECK(spans[0]->query[0] == 0, "query kept by default");
	CHECK(!spans[0]->error && spans[1]->error && spans[2]->error, "status rules");
	CHECK_STR(spans[2]->error_type, "404");

	CHECK(zs_otlp_encode_traces(spans, 3, extra, 1, &buf, &len) == 0, "encode");
	req = zs__otlp__export_trace_service_request__unpack(NULL, len, buf);
	CHECK(req != NULL, "our own decoder rejects our output");
	if (req) {
		CHECK(req->n_resource_spans == 2, "one ResourceSpans per process: %zu",
		      req->n_resource_spans);
		CHECK(req->resource_spans[0]->scope_spans[0]->n_spans == 2,
		      "spans grouped by resource");
		CHECK(req->resource_spans[1]->scope_spans[0]->spans[0]->status->code ==
			      ZS__OTLP__STATUS__STATUS_CODE__STATUS_CODE_ERROR,
		      "error status");
		{
			Zs__Otlp__Resource *res = req->resource_spans[0]->resource;
			int found = 0;
			size_t k;

			for (k = 0; k < res->n_attributes; k++)
				if (strcmp(res->attributes[k]->key, "deployment.environment") == 0)
					found = 1;
			CHECK(found, "OTEL_RESOURCE_ATTRIBUTES not on the resource");
		}
		zs__otlp__export_trace_service_request__free_unpacked(req, NULL);
	}
	CHECK(zs_gzip(buf, len, &gz, &gz_len) == 0, "gzip");
	{
		uint8_t *back = malloc(len);
		z_stream z = { 0 };

		inflateInit2(&z, 15 + 16);
		z.next_in = gz;
		z.avail_in = (uInt)gz_len;
		z.next_out = back;
		z.avail_out = (uInt)len;
		CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == len &&
			      memcmp(back, buf, len) == 0,
		      "gzip round trip");
		inflateEnd(&z);
		free(back);
	}
	{
		char line[4096];

		zs_print_format(spans[2], ZS_PRINT_TEXT, line, sizeof(line));
		CHECK(strstr(line, "CLIENT GET") && strstr(line, "/users/42 404 1.500ms") &&
			      strstr(line, "error=404"),
		      "text line: %s", line);
		zs_print_format(spans[0], ZS_PRINT_JSON, line, sizeof(line));
		CHECK(strstr(line, "\"status\":200") && strstr(line, "\"service\":\"front\""),
		      "json line: %s", line);
	}
	for (i = 0; i < 3; i++)
		zs_span_free(spans[i]);
	free(buf);
	free(gz);
	zs_resource_unref(r1);
	zs_resource_unref(r2);
}

static const Zs__Otlp__AnyValue *attr(Zs__Otlp__KeyValue **kv, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(kv[i]->key, key) == 0)
			return kv[i]->value;
	return NULL;
}

/* A span's message opened with two length bytes: every length that needs
 * one, two or three bytes comes out as the shortest varint, the body intact
 * after it, whatever was written before. */
static void test_pb_two_byte_length(void)
{
	static const size_t sizes[] = { 0, 1, 127, 128, 300, 16383, 16384, 70000 };
	size_t i, j;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct zs_pb pb = { 0 };
		size_t body = sizes[i], m, at, got = 0, shift = 0;
		bool same = true;

		zs_pb_raw(&pb, "\xaa", 1);
		m = zs_pb_begin2(&pb, 5);
		for (j = 0; j < body; j++) {
			uint8_t b = (uint8_t)(j * 7 + 1);

			zs_pb_raw(&pb, &b, 1);
		}
		zs_pb_end2(&pb, m);
		CHECK(!pb.failed && pb.buf[0] == 0xaa && pb.buf[1] == (5 << 3 | ZS_PB_LEN),
		      "body %zu: prefix and tag", body);
		at = 2;
		do {
			got |= (size_t)(pb.buf[at] & 0x7f) << shift;
			shift += 7;
		} while (pb.buf[at++] & 0x80);
		CHECK(got == body && at - 2 == zs_pb_varint_len(body) && pb.len == at + body,
		      "body %zu: length %zu in %zu bytes, message %zu bytes", body, got, at - 2,
		      pb.len);
		for (j = 0; j < body && pb.len == at + body; j++)
			same &= pb.buf[at + j] == (uint8_t)(j * 7 + 1);
		CHECK(same, "body %zu: bytes moved intact", body);
		zs_pb_free(&pb);
	}
}

/* The wire encoder against protobuf-c's decoder: every field of every span, in
 * a batch large enough for 3-byte lengths, resources interleaved. */
static void test_otlp_wire(void)
{
	enum { N = 600 };
	struct zs_resource *r[2];
	struct zs_span *spans[N];
	uint8_t *buf = NULL;
	size_t len = 0, i, seen[2] = { 0, 0 };
	Zs__Otlp__ExportTraceServiceRequest *req;
	char longpath[300], want[400];
	const char *first_bad = "";
	size_t bad = 0;
	int k;

/* one check for all spans' fields: counts and names the first wrong one */
#define SPAN_CHECK(cond, ...)              \
	do {                               \
		if (!(cond) && !bad++)     \
			first_bad = #cond; \
	} while (0)

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	for (k = 0; k < 2; k++) {
		r[k] = calloc(1, sizeof(*r[k]));
		atomic_store(&r[k]->refs, 1);
		r[k]->pid = 100 + (uint32_t)k;
		r[k]->netns = k ? 0 : 4026531840ULL;
		snprintf(r[k]->service_name, sizeof(r[k]->service_name), "svc%d", k);
		snprintf(r[k]->exe_name, sizeof(r[k]->exe_name), "exe%d", k);
		/* a process attribute that repeats one of ours: ours wins, no duplicate */
		r[k]->extra = calloc(2, sizeof(*r[k]->extra));
		snprintf(r[k]->extra[0].key, sizeof(r[k]->extra[0].key), "service.name");
		snprintf(r[k]->extra[0].value, sizeof(r[k]->extra[0].value), "dup");
		snprintf(r[k]->extra[1].key, sizeof(r[k]->extra[1].key), "team");
		snprintf(r[k]->extra[1].value, sizeof(r[k]->extra[1].value), "t%d", k);
		r[k]->n_extra = 2;
	}
	for (i = 0; i < N; i++) {
		struct zs_span *s = mk_span(r[i % 3 == 2], i % 7 ? 200 : 500,
					    i % 2 ? ZS_KIND_CLIENT : ZS_KIND_SERVER);

		s->start_ns += i;
		s->end_ns = i == 5 ? 1 : s->end_ns + i; /* an end before the start */
		s->trace_flags = (uint8_t)(i & 1);
		s->peer_port = (uint16_t)(1000 + i);
		if (i % 5 == 0) {
			s->has_parent = true;
			memset(s->parent_span_id, (int)(i & 0xff) | 1, 8);
			snprintf(s->tracestate, sizeof(s->tracestate), "vendor=%zu", i);
		}
		if (i == 7)
			zs_span_set_target(s, longpath, false);
		spans[i] = s;
	}
	CHECK(zs_otlp_encode_traces(spans, N, NULL, 0, &buf, &len) == 0, "encode %d spans", N);
	CHECK(len > 16384, "batch not large enough for 3-byte lengths: %zu", len);
	req = zs__otlp__export_trace_service_request__unpack(NULL, len, buf);
	CHECK(req != NULL, "protobuf-c rejects the wire encoding");
	if (req && req->n_resource_spans == 2) {
		for (k = 0; k < 2; k++) {
			Zs__Otlp__ResourceSpans *rs = req->resource_spans[k];
			Zs__Otlp__Resource *res = rs->resource;
			const Zs__Otlp__AnyValue *v;
			size_t j, n_names = 0;

			/* first appearance order: spans[0] has r[0], spans[2] r[1] */
			v = attr(res->attributes, res->n_attributes, "service.name");
			CHECK(v && strcmp(v->string_value, k ? "svc1" : "svc0") == 0,
			      "service.name");
			for (j = 0; j < res->n_attributes; j++)
				n_names += strcmp(res->attributes[j]->key, "service.name") == 0;
			CHECK(n_names == 1, "service.name %zu times", n_names);
			v = attr(res->attributes, res->n_attributes, "process.pid");
			CHECK(v && v->int_value == 100 + k, "process.pid");
			v = attr(res->attributes, res->n_attributes, "zerospan.netns");
			CHECK(k ? v == NULL : v && v->int_value == 4026531840LL, "netns");
			v = attr(res->attributes, res->n_attributes, "team");
			CHECK(v && v->string_value[1] == '0' + k, "own resource attribute");
			CHECK(rs->n_scope_spans == 1 &&
				      strcmp(rs->scope_spans[0]->scope->name, "zerospan") == 0 &&
				      strcmp(rs->scope_spans[0]->scope->version, ZS_VERSION) == 0,
			      "scope");
			for (j = 0; j < rs->scope_spans[0]->n_spans; j++) {
				const Zs__Otlp__Span *p = rs->scope_spans[0]->spans[j];
				const struct zs_span *s = NULL;
				size_t m;

				for (m = 0; m < N && !s; m++)
					if (memcmp(spans[m]->span_id, p->span_id.data, 8) == 0)
						s = spans[m];
				if (!s) {
					CHECK(0, "a span id that was never sent");
					continue;
				}
				m = (size_t)(s->start_ns - 1700000000000000000ULL);
				seen[k]++;
				SPAN_CHECK((s->res == r[1]) == (k == 1),
					   "span %zu under the wrong resource", m);
				SPAN_CHECK(p->trace_id.len == 16 &&
						   memcmp(p->trace_id.data, s->trace_id, 16) == 0,
					   "trace id");
				SPAN_CHECK(s->has_parent ? p->parent_span_id.len == 8 &&
								   memcmp(p->parent_span_id.data,
									  s->parent_span_id, 8) == 0
							 : p->parent_span_id.len == 0,
					   "parent of %zu", m);
				SPAN_CHECK(strcmp(p->trace_state, s->tracestate) == 0,
					   "tracestate");
				SPAN_CHECK(p->flags == s->trace_flags, "flags");
				SPAN_CHECK(strcmp(p->name, s->name) == 0, "name %s", p->name);
				SPAN_CHECK((uint8_t)p->kind == s->kind, "kind");
				SPAN_CHECK(p->start_time_unix_nano == s->start_ns &&
						   p->end_time_unix_nano ==
							   (m == 5 ? s->start_ns : s->end_ns),
					   "times of %zu", m);
				SPAN_CHECK(p->status && p->status->code == (s->error ? 2 : 0),
					   "status");
				v = attr(p->attributes, p->n_attributes,
					 "http.response.status_code");
				SPAN_CHECK(v && v->int_value == s->status, "status code");
				v = attr(p->attributes, p->n_attributes, "network.peer.port");
				SPAN_CHECK(v && v->int_value == s->peer_port, "peer port");
				v = attr(p->attributes, p->n_attributes, "url.path");
				SPAN_CHECK(v && strcmp(v->string_value, s->path) == 0, "url.path");
				v = attr(p->attributes, p->n_attributes, "url.full");
				snprintf(want, sizeof(want), "http://[::1]:8080%s", s->path);
				SPAN_CHECK(s->kind == ZS_KIND_CLIENT
						   ? v && strcmp(v->string_value, want) == 0
						   : v == NULL,
					   "url.full");
				v = attr(p->attributes, p->n_attributes,
					 "network.protocol.version");
				SPAN_CHECK(!attr(p->attributes, p->n_attributes,
						 "network.transport") &&
						   !attr(p->attributes, p->n_attributes,
							 "network.protocol.name"),
					   "attributes the conventions leave out");
				SPAN_CHECK(!attr(p->attributes, p->n_attributes, "url.query"),
					   "empty attribute written");
			}
		}
	}
	CHECK(bad == 0, "%zu span fields wrong, first: %s", bad, first_bad);
	CHECK(req && req->n_resource_spans == 2 && seen[0] + seen[1] == N && seen[1] == N / 3,
	      "spans decoded: %zu + %zu", seen[0], seen[1]);
	if (req)
		zs__otlp__export_trace_service_request__free_unpacked(req, NULL);
	free(buf);
	CHECK(zs_otlp_encode_traces(spans, 0, NULL, 0, &buf, &len) == 0 && len == 0,
	      "an empty batch");
	free(buf);
	for (i = 0; i < N; i++)
		zs_span_free(spans[i]);
	zs_resource_unref(r[0]);
	zs_resource_unref(r[1]);
#undef SPAN_CHECK
}

static void test_method_and_target(void)
{
	struct zs_span s;

	memset(&s, 0, sizeof(s));
	zs_span_set_method(&s, "PROPFIND");
	CHECK_STR(s.method, "_OTHER");
	CHECK_STR(s.method_original, "PROPFIND");
	CHECK_STR(s.name, "HTTP");
	zs_span_set_target(&s, "http://proxy.example/a/b?c=d", true);
	CHECK_STR(s.path, "/a/b");
	CHECK_STR(s.query, "c=d");
	zs_span_set_target(&s, "*", false);
	CHECK_STR(s.path, "*");
	memset(&s, 0, sizeof(s));
	s.kind = ZS_KIND_SERVER;
	zs_span_set_method(&s, "DELETE");
	zs_span_set_target(&s, "/a/b", false);
	CHECK_STR(s.name, "DELETE /a/b");
	zs_span_set_target(
		&s, "/abcdefghijklmnopqrstuvwxyz/abcdefghijklmnopqrstuvwxyz/abcdefghijklm", false);
	CHECK(strlen(s.name) == sizeof(s.name) - 1 && strncmp(s.name, "DELETE /abcd", 12) == 0,
	      "long name truncated: %s", s.name);
}

static void test_retry_after(void)
{
	CHECK(zs_parse_retry_after("7", 0) == 7, "seconds");
	CHECK(zs_parse_retry_after(" 120\r\n", 0) == 120, "seconds with CRLF");
	CHECK(zs_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470) == 10, "HTTP-date");
	CHECK(zs_parse_retry_after("soon", 0) == -1, "garbage");
}

/* A fake /proc for procinfo: mkdtemp'd dir, pid directories in it, files in
 * those (name NULL: the directory alone). */
static void fake_proc_file(const char *dir, uint32_t pid, const char *name, const void *data,
			   size_t n)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u", dir, pid);
	mkdir(path, 0755);
	if (!name)
		return;
	snprintf(path, sizeof(path), "%s/%u/%s", dir, pid, name);
	f = fopen(path, "w");
	if (!f)
		return;
	fwrite(data, 1, n, f);
	fclose(f);
}

static int fake_proc_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Removes the fake /proc, files first. */
static void fake_proc_rm(const char *dir)
{
	nftw(dir, fake_proc_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void write_stat(const char *dir, unsigned long long start)
{
	char line[128];
	int n = snprintf(line, sizeof(line),
			 "4242 (srv) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %llu 0 0\n", start);

	fake_proc_file(dir, 4242, "stat", line, (size_t)n);
}

/* Resources by pid: cached, the start time (pid reuse) read again at most
 * once a second, not on every lookup (one per new connection). */
static void test_procinfo_recheck(void)
{
	char dir[] = "/tmp/zs-proc-XXXXXX";
	struct zs_resource *a, *b, *c;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	write_stat(dir, 1000);
	zs_procinfo_init(dir, 16);
	a = zs_procinfo_get(4242, "srv");
	write_stat(dir, 2000); /* pid 4242 is another process now */
	b = zs_procinfo_get(4242, "srv");
	CHECK(a && a == b, "looked up again within a second: the cached resource");
	usleep(1100 * 1000);
	c = zs_procinfo_get(4242, "srv");
	CHECK(c && c != a, "after a second the start time is read: pid reuse seen");
	CHECK(c && strcmp(c->service_name, "srv") == 0, "service name %s",
	      c ? c->service_name : "");
	zs_resource_unref(a);
	zs_resource_unref(b);
	zs_resource_unref(c);
	zs_procinfo_fini();
	fake_proc_rm(dir);
}

/* A process's own OTEL_RESOURCE_ATTRIBUTES, from its environment: kept
 * with its resource (allocated for it), service.name among them names it. */
static void test_procinfo_environ(void)
{
	static const char env[] = "A=1\0OTEL_RESOURCE_ATTRIBUTES=team=a,service.name=svc-x\0B=2";
	char dir[] = "/tmp/zs-proc-XXXXXX";
	struct zs_resource *r;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	fake_proc_file(dir, 4343, "environ", env, sizeof(env));
	zs_procinfo_init(dir, 16);
	r = zs_procinfo_get(4343, "py");
	CHECK(r && r->n_extra == 2 && r->extra, "two attributes: %d", r ? r->n_extra : -1);
	if (r && r->n_extra == 2 && r->extra) {
		CHECK(strcmp(r->extra[0].key, "team") == 0 && strcmp(r->extra[0].value, "a") == 0,
		      "team=a: %s=%s", r->extra[0].key, r->extra[0].value);
		CHECK(strcmp(r->service_name, "svc-x") == 0, "named by service.name: %s",
		      r->service_name);
	}
	zs_resource_unref(r);
	r = zs_procinfo_get(4344, "gone");
	CHECK(r && r->n_extra == 0 && !r->extra, "none for a process that is gone");
	zs_resource_unref(r);
	zs_procinfo_fini();
	fake_proc_rm(dir);
}

/* Looks up n pids from first (each resource released at once); returns the
 * most processes cached meanwhile, or most if more. */
static uint64_t look_up_pids(uint32_t first, uint32_t n, const char *comm, uint64_t most)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct zs_resource *r = zs_procinfo_get(first + i, comm);

		CHECK(r != NULL, "a resource for pid %u", first + i);
		zs_resource_unref(r);
		if (zs_get(procs_cached) > most)
			most = zs_get(procs_cached);
	}
	return most;
}

/* A fake /proc in dir (a mkdtemp template) with n running processes from
 * pid first, and the process cache on it with room for bound. 0 if the
 * directory could not be made (a failed check). */
static int fake_procs_begin(char *dir, uint32_t first, uint32_t n, uint32_t bound)
{
	uint32_t i;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return 0;
	}
	for (i = 0; i < n; i++)
		fake_proc_file(dir, first + i, NULL, NULL, 0);
	zs_procinfo_init(dir, bound);
	return 1;
}

/* Many processes: the resource cache stays within its bound, and the
 * processes that are gone leave it before the ones still running. */
static void test_procinfo_bounded(void)
{
	char dir[] = "/tmp/zs-proc-XXXXXX";
	struct zs_resource *live[8], *r;
	uint64_t most = 0;
	uint32_t i;
	int kept = 0;

	if (!fake_procs_begin(dir, 1000, 40, 16)) /* running: pids 1000-1039 */
		return;
	for (i = 0; i < 8; i++)
		live[i] = zs_procinfo_get(1000 + i, "live");
	/* a thousand short-lived processes, gone by the time they are looked up */
	most = look_up_pids(5000, 1000, "gone", most);
	CHECK(most <= 16, "at most 16 processes cached: %llu", (unsigned long long)most);
	for (i = 0; i < 8; i++) {
		r = zs_procinfo_get(1000 + i, "live");
		kept += r == live[i];
		zs_resource_unref(r);
	}
	CHECK(kept == 8, "the running processes stayed cached: %d of 8", kept);
	/* more running processes than the bound: whole buckets go */
	most = look_up_pids(1000, 40, "live", most);
	CHECK(most <= 16, "still at most 16 cached: %llu", (unsigned long long)most);
	/* the default bound (2048) times this stays within a few MiB */
	CHECK(sizeof(struct zs_resource) <= 2304, "a process's entry: %zu bytes",
	      sizeof(struct zs_resource));
	for (i = 0; i < 8; i++)
		zs_resource_unref(live[i]);
	zs_procinfo_fini();
	fake_proc_rm(dir);
}

/* Gone processes leave the cache within seconds (the agent's once-a-second
 * sweep), not when it is full; those looked up in the last 5 s and those
 * still running stay; a small budget a call still gets round all of them. */
static void test_procinfo_sweep(void)
{
	char dir[] = "/tmp/zs-proc-XXXXXX";
	uint64_t now = zs_now_ns(CLOCK_MONOTONIC);
	uint32_t i;

	if (!fake_procs_begin(dir, 2000, 10, 64)) /* running: pids 2000-2009 */
		return;
	look_up_pids(2000, 10, "live", 0);
	look_up_pids(3000, 20, "gone", 0);
	zs_procinfo_sweep(now, 1000);
	CHECK(zs_get(procs_cached) == 30, "just looked up: all 30 stay: %llu",
	      (unsigned long long)zs_get(procs_cached));
	zs_procinfo_sweep(now + 6000000000ULL, 1000);
	CHECK(zs_get(procs_cached) == 10, "6 s later the 20 gone ones went: %llu left",
	      (unsigned long long)zs_get(procs_cached));
	look_up_pids(3000, 20, "gone", 0);
	for (i = 0; i < 30; i++) /* one entry a call (each pid in a bucket of its own) */
		zs_procinfo_sweep(now + 6000000000ULL, 1);
	CHECK(zs_get(procs_cached) == 10, "budget 1, 30 calls: the gone ones went: %llu left",
	      (unsigned long long)zs_get(procs_cached));
	zs_procinfo_fini();
	fake_proc_rm(dir);
}

/* ---- same-node links through conn.c: events in, spans out ---- */

static struct zs_span *linked[16];
static int n_linked;

static void keep_span(struct zs_span *s)
{
	if (n_linked < 16)
		linked[n_linked++] = s;
	else
		zs_span_free(s);
}

static uint64_t ev_pos[8][2];

/* A fresh connection table of max_conns whose spans land in linked[]. */
static void conns_begin_max(uint32_t max_conns)
{
	struct zs_conn_opts o = { .max_conns = max_conns,
				  .idle_timeout_s = 600,
				  .capture_size = 16384 };

	n_linked = 0;
	memset(ev_pos, 0, sizeof(ev_pos));
	zs_span_sink = keep_span;
	CHECK(zs_conn_table_init(&o) == 0, "conn table");
}

static void conns_begin(void)
{
	conns_begin_max(64);
}

static void conns_end(void)
{
	zs_conn_table_fini();
	for (int i = 0; i < n_linked; i++)
		zs_span_free(linked[i]);
	n_linked = 0;
	zs_span_sink = NULL;
}

/* A CONN record; raddr: 16 bytes (IPv4 as ::ffff:a.b.c.d), NULL for 127.0.0.1. */
static void ev_open_from(uint64_t cookie, uint8_t role, uint16_t lport, uint16_t rport,
			 const uint8_t *raddr)
{
	struct zs_conn_event e = { 0 };
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	e.hdr.type = ZS_EV_CONN;
	e.hdr.size = sizeof(e);
	e.hdr.pid = (uint32_t)getpid();
	e.hdr.tid = e.hdr.pid;
	e.hdr.cookie = cookie;
	e.hdr.ts_ns = 1000;
	e.laddr[10] = e.laddr[11] = e.raddr[10] = e.raddr[11] = 0xff;
	e.laddr[12] = e.raddr[12] = 127;
	e.laddr[15] = e.raddr[15] = 1;
	e.family = AF_INET;
	if (raddr) {
		memcpy(e.raddr, raddr, 16);
		if (memcmp(raddr, v4mapped, 12) != 0) {
			memset(e.laddr, 0, 16);
			e.laddr[15] = 1;
			e.family = AF_INET6;
		}
	}
	e.lport = lport;
	e.rport = rport;
	e.role = role;
	e.netns = 4026531840u;
	memcpy(e.comm, "unit", 4);
	zs_conn_on_open(&e);
}

static void ev_open(uint64_t cookie, uint8_t role, uint16_t lport, uint16_t rport)
{
	ev_open_from(cookie, role, lport, rport, NULL);
}

/* A DATA record of text at the connection's next position; ctx: the
 * context the kernel attached to it, or NULL. */
static void ev_data_ctx(uint64_t cookie, uint8_t dir, const char *text, uint64_t ts,
			const struct zs_kernel_ctx *ctx)
{
	struct zs_data_event e = { 0 };
	size_t n = strlen(text);

	e.hdr.type = ZS_EV_DATA;
	e.hdr.size = (uint16_t)(sizeof(e) + n);
	e.hdr.pid = (uint32_t)getpid();
	e.hdr.tid = e.hdr.pid;
	e.hdr.cookie = cookie;
	e.hdr.ts_ns = ts;
	e.pos = ev_pos[cookie][dir];
	e.len = n;
	e.cap_len = (uint32_t)n;
	e.dir = dir;
	e.op = dir == ZS_DIR_EGRESS ? ZS_OP_WRITE : ZS_OP_READ;
	e.start = strncmp(text, "HTTP/", 5) == 0 ? ZS_START_RESPONSE : ZS_START_REQUEST;
	if (ctx)
		e.ctx = *ctx;
	ev_pos[cookie][dir] += n;
	zs_conn_on_data(&e, (const uint8_t *)text);
}

static void ev_data(uint64_t cookie, uint8_t dir, const char *text, uint64_t ts)
{
	ev_data_ctx(cookie, dir, text, ts, NULL);
}

static void ev_close(uint64_t cookie)
{
	struct zs_close_event e = { 0 };

	e.hdr.type = ZS_EV_CLOSE;
	e.hdr.size = sizeof(e);
	e.hdr.cookie = cookie;
	e.old_state = 8; /* CLOSE_WAIT: an orderly close */
	zs_conn_on_close(&e);
}

/* One exchange between client connection cc and server connection sc. */
static void exchange(uint64_t cc, uint64_t sc, const char *path, uint64_t t)
{
	char req[128];
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	ev_data(cc, ZS_DIR_EGRESS, req, t);
	ev_data(sc, ZS_DIR_INGRESS, req, t + 10);
	ev_data(sc, ZS_DIR_EGRESS, resp, t + 20);
	ev_data(cc, ZS_DIR_INGRESS, resp, t + 30);
}

/* The SERVER span of path is the child of the CLIENT span of path. */
static int linked_pair(const char *path)
{
	struct zs_span *c = NULL, *sv = NULL;

	for (int i = 0; i < n_linked; i++) {
		if (strcmp(linked[i]->path, path) != 0)
			continue;
		if (linked[i]->kind == ZS_KIND_CLIENT)
			c = linked[i];
		else
			sv = linked[i];
	}
	return c && sv && sv->has_parent && memcmp(sv->trace_id, c->trace_id, 16) == 0 &&
	       memcmp(sv->parent_span_id, c->span_id, 8) == 0;
}

/* A connection's peer on this host is found once and kept on both ends;
 * removing either end must leave no pointer to it (run under ASan in CI):
 * a server connection closed and its tuple reused, a stale client entry
 * (close missed) sharing the tuple with a new one, then removed. */
static void test_same_node_links(void)
{
	conns_begin();
	ev_open(1, ZS_ROLE_CLIENT, 40000, 8080);
	ev_open(2, ZS_ROLE_SERVER, 8080, 40000);
	exchange(1, 2, "/a", 10000);
	exchange(1, 2, "/b", 20000);
	CHECK(n_linked == 4 && linked_pair("/a") && linked_pair("/b"), "linked: %d spans",
	      n_linked);
	ev_close(2); /* the server end goes: the client must keep no pointer to it */
	ev_open(3, ZS_ROLE_SERVER, 8080, 40000);
	exchange(1, 3, "/c", 30000);
	CHECK(n_linked == 6 && linked_pair("/c"), "new server on the same tuple linked");
	ev_open(4, ZS_ROLE_CLIENT, 40000, 8080); /* client 1's close was missed */
	exchange(4, 3, "/d", 40000);
	CHECK(n_linked == 8 && linked_pair("/d"), "second client on the tuple linked");
	ev_close(1);
	exchange(4, 3, "/e", 50000);
	CHECK(n_linked == 10 && linked_pair("/e"), "after the stale client went");
	ev_close(3);
	ev_close(4);
	CHECK(zs_conn_count() == 0, "connections left: %u", zs_conn_count());
	conns_end();
}

/* The span of path, of that kind. */
static struct zs_span *span_of(const char *path, uint8_t kind)
{
	for (int i = 0; i < n_linked; i++)
		if (linked[i]->kind == kind && strcmp(linked[i]->path, path) == 0)
			return linked[i];
	return NULL;
}

static const char *const REQ_LATE = "GET /late HTTP/1.1\r\nHost: x\r\n\r\n";
static const char *const RESP_OK = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/* Server connection sc (from client port cport) reads /late, its thread
 * calls /down on connection out (a CLIENT span under /late), answers. */
static void server_called_out(uint64_t sc, uint64_t out, uint16_t cport)
{
	const uint64_t ms = 1000000;

	ev_open(sc, ZS_ROLE_SERVER, 8080, cport);
	ev_open(out, ZS_ROLE_CLIENT, 40005, 9090);
	ev_data(sc, ZS_DIR_INGRESS, REQ_LATE, 10 * ms);
	ev_data(out, ZS_DIR_EGRESS, "GET /down HTTP/1.1\r\nHost: y\r\n\r\n", 10 * ms + 5);
	ev_data(out, ZS_DIR_INGRESS, RESP_OK, 10 * ms + 8);
	ev_data(sc, ZS_DIR_EGRESS, RESP_OK, 10 * ms + 20);
}

/* The server's whole exchange is seen before the client's send (its thread
 * preempted between the two): the SERVER span waits, parked, and still
 * becomes the CLIENT span's child; also when the server closed meanwhile.
 * Unclaimed, it leaves as a root once a record made 50 ms after it was
 * handled, or after 1 s by the clock when none comes; not before. A server
 * span whose trace an outgoing call already took keeps it: a late root
 * CLIENT span joins it, one with a trace of its own leaves it alone. */
static void test_same_node_client_seen_late(void)
{
	const uint64_t ms = 1000000;
	struct zs_span *sv, *out, *cs;

	conns_begin();
	ev_open(1, ZS_ROLE_CLIENT, 40001, 8080);
	ev_open(2, ZS_ROLE_SERVER, 8080, 40001);
	ev_data(2, ZS_DIR_INGRESS, REQ_LATE, 10 * ms);
	ev_data(2, ZS_DIR_EGRESS, RESP_OK, 10 * ms + 20);
	CHECK(n_linked == 0, "the SERVER span waits: %d spans out", n_linked);
	ev_data(1, ZS_DIR_EGRESS, REQ_LATE, 10 * ms + 30);
	ev_data(1, ZS_DIR_INGRESS, RESP_OK, 10 * ms + 40);
	CHECK(n_linked == 2 && linked_pair("/late"), "late CLIENT span claims it: %d spans",
	      n_linked);
	ev_close(1);
	ev_close(2);
	conns_end();

	/* The same with the server connection's role unknown when it opened,
	 * as Linux 6.1-6.12 report every accepted socket (tests/kernels): told
	 * by its first request, it must still be found by the late client. */
	conns_begin();
	ev_open(2, ZS_ROLE_UNKNOWN, 8080, 40001);
	ev_data(2, ZS_DIR_INGRESS, REQ_LATE, 10 * ms);
	ev_data(2, ZS_DIR_EGRESS, RESP_OK, 10 * ms + 20);
	CHECK(n_linked == 0, "role unknown: the SERVER span waits: %d spans out", n_linked);
	ev_open(1, ZS_ROLE_CLIENT, 40001, 8080);
	ev_data(1, ZS_DIR_EGRESS, REQ_LATE, 10 * ms + 30);
	ev_data(1, ZS_DIR_INGRESS, RESP_OK, 10 * ms + 40);
	CHECK(n_linked == 2 && linked_pair("/late"),
	      "role unknown at open: the late CLIENT span claims it: %d spans", n_linked);
	ev_close(1);
	ev_close(2);
	CHECK(zs_conn_count() == 0, "connections left: %u", zs_conn_count());
	conns_end();

	conns_begin(); /* the server closes before the client's records come */
	ev_open(3, ZS_ROLE_SERVER, 8080, 40002);
	ev_data(3, ZS_DIR_INGRESS, REQ_LATE, 10 * ms);
	ev_data(3, ZS_DIR_EGRESS, RESP_OK, 10 * ms + 20);
	ev_close(3);
	CHECK(n_linked == 0 && zs_conn_count() == 1, "closed, kept for its parked span: %u",
	      zs_conn_count());
	ev_open(4, ZS_ROLE_CLIENT, 40002, 8080);
	ev_data(4, ZS_DIR_EGRESS, REQ_LATE, 10 * ms + 30);
	ev_data(4, ZS_DIR_INGRESS, RESP_OK, 10 * ms + 40);
	ev_close(4);
	CHECK(n_linked == 2 && linked_pair("/late") && zs_conn_count() == 0,
	      "linked after the server closed: %d spans, %u connections", n_linked,
	      zs_conn_count());
	conns_end();

	conns_begin(); /* no CLIENT span ever comes; other records do */
	ev_open(5, ZS_ROLE_SERVER, 8080, 40003);
	ev_data(5, ZS_DIR_INGRESS, REQ_LATE, 10 * ms);
	ev_data(5, ZS_DIR_EGRESS, RESP_OK, 10 * ms + 20);
	ev_close(5); /* parked at its response, 10 ms + 20 */
	ev_open(6, ZS_ROLE_SERVER, 8080, 40004);
	ev_data(6, ZS_DIR_INGRESS, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n",
		10 * ms + 20 + 50 * ms - 1);
	zs_conn_release_parked(10 * ms + 20 + 900 * ms);
	CHECK(n_linked == 0, "still parked: no record made 50 ms later yet, under 1 s");
	ev_data(6, ZS_DIR_EGRESS, RESP_OK, 10 * ms + 20 + 50 * ms);
	zs_conn_release_parked(0);
	sv = span_of("/late", ZS_KIND_SERVER);
	CHECK(sv && !sv->has_parent && zs_conn_count() == 1,
	      "a root once a record 50 ms later came, its connection gone: %d spans, %u "
	      "connections",
	      n_linked, zs_conn_count());
	conns_end();

	conns_begin(); /* and no other record either: 1 s by the clock */
	ev_open(5, ZS_ROLE_SERVER, 8080, 40003);
	ev_data(5, ZS_DIR_INGRESS, REQ_LATE, 10 * ms);
	ev_data(5, ZS_DIR_EGRESS, RESP_OK, 10 * ms + 20);
	zs_conn_release_parked(10 * ms + 20 + 1000 * ms - 1);
	CHECK(n_linked == 0, "still parked before 1 s");
	zs_conn_release_parked(10 * ms + 20 + 1000 * ms);
	sv = span_of("/late", ZS_KIND_SERVER);
	CHECK(n_linked == 1 && sv && !sv->has_parent, "a root after 1 s: %d spans", n_linked);
	ev_close(5);
	conns_end();

	/* The server called out while serving: its trace is taken. A late
	 * CLIENT span that is a root joins that trace (seen in CI: curl's
	 * request recorded after the front's call to the next service). */
	conns_begin();
	server_called_out(6, 7, 40004);
	CHECK(n_linked == 1 && span_of("/down", ZS_KIND_CLIENT), "parked, its call out: %d spans",
	      n_linked);
	ev_open(1, ZS_ROLE_CLIENT, 40004, 8080);
	ev_data(1, ZS_DIR_EGRESS, REQ_LATE, 10 * ms + 30);
	ev_data(1, ZS_DIR_INGRESS, RESP_OK, 10 * ms + 40);
	sv = span_of("/late", ZS_KIND_SERVER);
	out = span_of("/down", ZS_KIND_CLIENT);
	cs = span_of("/late", ZS_KIND_CLIENT);
	CHECK(n_linked == 3 && sv && out && cs && sv->has_parent &&
		      memcmp(sv->parent_span_id, cs->span_id, 8) == 0 &&
		      memcmp(cs->trace_id, sv->trace_id, 16) == 0 &&
		      memcmp(out->trace_id, sv->trace_id, 16) == 0 &&
		      memcmp(out->parent_span_id, sv->span_id, 8) == 0,
	      "the late root CLIENT span joins the server's trace, the call stays under it");
	ev_close(1);
	ev_close(6);
	ev_close(7);
	CHECK(zs_conn_count() == 0, "connections left: %u", zs_conn_count());
	conns_end();

	/* ...but one in a trace of its own (its thread serves /up) cannot: both
	 * keep their traces, the server span a root once released */
	conns_begin();
	server_called_out(6, 7, 40004);
	ev_open(3, ZS_ROLE_SERVER, 7070, 40006);
	ev_data(3, ZS_DIR_INGRESS, "GET /up HTTP/1.1\r\nHost: x\r\n\r\n", 10 * ms + 25);
	ev_open(1, ZS_ROLE_CLIENT, 40004, 8080);
	ev_data(1, ZS_DIR_EGRESS, REQ_LATE, 10 * ms + 30);
	ev_data(1, ZS_DIR_INGRESS, RESP_OK, 10 * ms + 40);
	zs_conn_release_parked(UINT64_MAX);
	sv = span_of("/late", ZS_KIND_SERVER);
	out = span_of("/down", ZS_KIND_CLIENT);
	cs = span_of("/late", ZS_KIND_CLIENT);
	CHECK(n_linked == 3 && sv && out && cs && !sv->has_parent && cs->has_parent &&
		      memcmp(cs->trace_id, sv->trace_id, 16) != 0 &&
		      memcmp(out->trace_id, sv->trace_id, 16) == 0,
	      "a CLIENT span with a parent leaves the server span a root: %d spans", n_linked);
	ev_close(1);
	ev_close(3); /* /up, unanswered, parks too (a loopback client not seen) */
	ev_close(6);
	ev_close(7);
	zs_conn_release_parked(UINT64_MAX);
	CHECK(zs_conn_count() == 0, "connections left: %u", zs_conn_count());
	conns_end();
}

/* The indexes start small and grow with the connections tracked, then
 * shrink: every connection is found by cookie (its close) and by tuple (its
 * peer) across each change. Both ends of a pair are opened before a change
 * and exchange after it (one end found makes the pair: a pair split by the
 * change would not show a lost entry). */
static void test_tables_grow_and_shrink(void)
{
	const uint32_t bulk = 5000;
	uint32_t i;

	conns_begin_max(8192);
	ev_open(1, ZS_ROLE_CLIENT, 40000, 8080);
	ev_open(2, ZS_ROLE_SERVER, 8080, 40000);
	for (i = 0; i < bulk; i++) /* server ends with no client: 1000 + i */
		ev_open(1000 + i, ZS_ROLE_SERVER, 9000, (uint16_t)(10000 + i));
	CHECK(zs_conn_count() == bulk + 2, "tracked after growing: %u", zs_conn_count());
	exchange(1, 2, "/grown", 10000);
	CHECK(linked_pair("/grown"), "peers found across a growth");
	for (i = 0; i < bulk; i++)
		ev_close(1000 + i);
	CHECK(zs_conn_count() == 2, "closed by cookie after growing: %u left", zs_conn_count());
	ev_open(3, ZS_ROLE_CLIENT, 40001, 8080); /* the indexes halve before each */
	ev_open(4, ZS_ROLE_SERVER, 8080, 40001);
	ev_open(5, ZS_ROLE_SERVER, 9001, 10000);
	ev_open(6, ZS_ROLE_SERVER, 9001, 10001);
	exchange(3, 4, "/shrunk", 20000);
	CHECK(linked_pair("/shrunk"), "peers found across a shrink");
	for (i = 1; i <= 6; i++)
		ev_close(i);
	CHECK(zs_conn_count() == 0, "connections left: %u", zs_conn_count());
	conns_end();
}

/* A send whose DATA record says the kernel inserted a traceparent: the
 * CLIENT span takes those ids; the context is not the request's own (a
 * SERVER context), and a later send without one gets fresh ids. */
static void test_injected_in_data(void)
{
	const char *req = "GET /i HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct zs_kernel_ctx k = { .flags = 1, .state = ZS_CTX_ROOT };

	conns_begin();
	ev_open(5, ZS_ROLE_CLIENT, 40001, 8081);
	memset(k.trace_id, 0xab, 16);
	memset(k.span_id, 0xcd, 8);
	ev_data_ctx(5, ZS_DIR_EGRESS, req, 1000, &k);
	ev_data(5, ZS_DIR_INGRESS, resp, 2000);
	ev_data(5, ZS_DIR_EGRESS, req, 3000);
	ev_data(5, ZS_DIR_INGRESS, resp, 4000);
	CHECK(n_linked == 2, "two CLIENT spans: %d", n_linked);
	if (n_linked == 2) {
		CHECK(memcmp(linked[0]->trace_id, k.trace_id, 16) == 0 &&
			      memcmp(linked[0]->span_id, k.span_id, 8) == 0 &&
			      linked[0]->trace_flags == 1,
		      "first CLIENT span has the injected ids");
		CHECK(memcmp(linked[1]->span_id, k.span_id, 8) != 0 &&
			      memcmp(linked[1]->trace_id, k.trace_id, 16) != 0,
		      "second CLIENT span has ids of its own");
	}
	ev_close(5);
	conns_end();
}

/* With injection on, a request read without a traceparent gets a trace the
 * kernel started (its server's calls carry it): the SERVER span keeps it. A
 * CLIENT span on this host that sent it without injection (a connection
 * opened before the agent and not enrolled) and is a root joins that trace
 * as the server span's parent: seen before the server's read, and after the
 * server's whole exchange (the client's records late). */
static void test_kernel_root_adopts_root_client(void)
{
	const uint64_t ms = 1000000;
	const char *req = "GET /old HTTP/1.1\r\nHost: x\r\n\r\n";
	struct zs_kernel_ctx k = { .flags = 1, .state = ZS_CTX_ROOT };
	struct zs_span *sv, *cs;

	memset(k.trace_id, 0x5a, 16);
	for (int late = 0; late < 2; late++) {
		conns_begin();
		ev_open(1, ZS_ROLE_CLIENT, 40020, 8080);
		ev_open(2, ZS_ROLE_SERVER, 8080, 40020);
		if (!late)
			ev_data(1, ZS_DIR_EGRESS, req, 10 * ms);
		ev_data_ctx(2, ZS_DIR_INGRESS, req, 10 * ms + 10, &k);
		ev_data(2, ZS_DIR_EGRESS, RESP_OK, 10 * ms + 20);
		if (late)
			ev_data(1, ZS_DIR_EGRESS, req, 10 * ms + 25);
		ev_data(1, ZS_DIR_INGRESS, RESP_OK, 10 * ms + 30);
		sv = span_of("/old", ZS_KIND_SERVER);
		cs = span_of("/old", ZS_KIND_CLIENT);
		CHECK(n_linked == 2 && sv && cs && memcmp(sv->trace_id, k.trace_id, 16) == 0 &&
			      memcmp(cs->trace_id, k.trace_id, 16) == 0 && sv->has_parent &&
			      memcmp(sv->parent_span_id, cs->span_id, 8) == 0 && !cs->has_parent,
		      "%s: the root CLIENT span is the parent, in the kernel's trace (%d spans)",
		      late ? "client seen late" : "client seen first", n_linked);
		ev_close(1);
		ev_close(2);
		conns_end();
	}
}

/* The load balancer's client a PROXY protocol header names: v1 text, v2
 * binary; the headers that name none, and broken ones, give -1 and "". */
static void test_proxy_source(void)
{
	static const uint8_t v2_head[12] = { '\r', '\n', '\r', '\n', 0,	  '\r',
					     '\n', 'Q',	 'U',  'I',  'T', '\n' };
	static const uint8_t v4_addrs[12] = { 192, 0, 2, 7, 127, 0, 0, 1, 0x9c, 0x41, 0x1f, 0x90 };
	uint8_t v2[16 + 36];
	char out[48];
	const char *v1 = "PROXY TCP4 192.0.2.7 127.0.0.1 40001 8080\r\n";
	const char *v1_6 = "PROXY TCP6 2001:db8::1 ::1 40001 8080\r\n";
	const char *bad = "PROXY TCP4 999.0.2.7 127.0.0.1 1 2\r\n";
	const char *mixed = "PROXY TCP6 192.0.2.7 ::1 1 2\r\n";

	CHECK(zs_proxy_source((const uint8_t *)v1, strlen(v1), out, sizeof(out)) == 0 &&
		      strcmp(out, "192.0.2.7") == 0,
	      "v1 TCP4: '%s'", out);
	CHECK(zs_proxy_source((const uint8_t *)v1_6, strlen(v1_6), out, sizeof(out)) == 0 &&
		      strcmp(out, "2001:db8::1") == 0,
	      "v1 TCP6: '%s'", out);
	CHECK(zs_proxy_source((const uint8_t *)"PROXY UNKNOWN\r\n", 15, out, sizeof(out)) == -1 &&
		      out[0] == 0,
	      "v1 UNKNOWN");
	CHECK(zs_proxy_source((const uint8_t *)bad, strlen(bad), out, sizeof(out)) == -1 &&
		      out[0] == 0,
	      "v1 bad address");
	CHECK(zs_proxy_source((const uint8_t *)v1, 20, out, sizeof(out)) == -1, "v1 cut short");
	CHECK(zs_proxy_source((const uint8_t *)mixed, strlen(mixed), out, sizeof(out)) == -1,
	      "v1 TCP6 with an IPv4 address");

	memcpy(v2, v2_head, 12);
	v2[12] = 0x21; /* v2, PROXY */
	v2[13] = 0x11; /* TCP over IPv4 */
	v2[14] = 0;
	v2[15] = 12;
	memcpy(v2 + 16, v4_addrs, sizeof(v4_addrs));
	CHECK(zs_proxy_source(v2, 28, out, sizeof(out)) == 0 && strcmp(out, "192.0.2.7") == 0,
	      "v2 TCP4: '%s'", out);
	CHECK(zs_proxy_source(v2, 27, out, sizeof(out)) == -1, "v2 addresses cut short");
	v2[13] = 0x21; /* TCP over IPv6 */
	v2[15] = 36;
	memset(v2 + 16, 0, 36);
	v2[16] = 0x20;
	v2[17] = 0x01;
	v2[18] = 0x0d;
	v2[19] = 0xb8;
	v2[31] = 1;
	CHECK(zs_proxy_source(v2, sizeof(v2), out, sizeof(out)) == 0 &&
		      strcmp(out, "2001:db8::1") == 0,
	      "v2 TCP6: '%s'", out);
	v2[12] = 0x20; /* LOCAL: the balancer's own connection, no client */
	CHECK(zs_proxy_source(v2, sizeof(v2), out, sizeof(out)) == -1, "v2 LOCAL");
	v2[12] = 0x21;
	v2[13] = 0x12; /* UDP */
	CHECK(zs_proxy_source(v2, sizeof(v2), out, sizeof(out)) == -1, "v2 UDP");
	v2[13] = 0x21;
	v2[4] = 1;
	CHECK(zs_proxy_source(v2, sizeof(v2), out, sizeof(out)) == -1, "v2 bad signature");
	CHECK(zs_proxy_source(v2, 0, out, sizeof(out)) == -1, "nothing");
}

/* Addresses as spans show them: IPv4 dotted quads of every digit count,
 * IPv6 in its usual form. */
static void test_address_strings(void)
{
	static const uint8_t addrs[][16] = {
		{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 100, 255 },
		{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 9, 1 },
		{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0 },
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 },
	};
	static const char *want[] = { "10.0.100.255", "192.168.9.1", "0.0.0.0", "2001:db8::7" };

	for (int k = 0; k < 4; k++) {
		conns_begin();
		ev_open_from(6, ZS_ROLE_SERVER, 8080, 40000, addrs[k]);
		ev_data(6, ZS_DIR_INGRESS, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 2000);
		ev_data(6, ZS_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3000);
		CHECK(n_linked == 1 && strcmp(linked[0]->client_address, want[k]) == 0,
		      "address %s: got %s", want[k], n_linked ? linked[0]->client_address : "-");
		ev_close(6);
		conns_end();
	}
}

/* A SERVER span's server.address and server.port come from the Host
 * header; without a usable port there, the listening port (8080). */
static void test_host_ports(void)
{
	static const struct {
		const char *host, *addr;
		uint16_t port;
	} cases[] = {
		{ "x:8081", "x", 8081 },
		{ "[::1]:9090", "::1", 9090 },
		{ "[::1]", "::1", 8080 },
		{ "x", "x", 8080 },
		{ "x:65535", "x", 65535 },
		{ "x:65536", "x", 8080 },
		{ "x:99999999999", "x", 8080 },
		{ "x:80abc", "x", 80 },
		{ "x:", "x", 8080 },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char req[128];

		snprintf(req, sizeof(req), "GET /a HTTP/1.1\r\nHost: %s\r\n\r\n", cases[k].host);
		conns_begin();
		ev_open(6, ZS_ROLE_SERVER, 8080, 40000);
		ev_data(6, ZS_DIR_INGRESS, req, 2000);
		ev_data(6, ZS_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3000);
		zs_conn_release_parked(UINT64_MAX); /* a loopback client not seen: parked */
		CHECK(n_linked == 1 && linked[0]->server_port == cases[k].port &&
			      strcmp(linked[0]->server_address, cases[k].addr) == 0,
		      "Host %s: got %s port %u", cases[k].host,
		      n_linked ? linked[0]->server_address : "-",
		      n_linked ? linked[0]->server_port : 0);
		ev_close(6);
		conns_end();
	}
}

int main(void)
{
	test_config();
	test_events_validate();
	test_spans_and_otlp();
	test_otlp_wire();
	test_pb_two_byte_length();
	test_method_and_target();
	test_retry_after();
	test_procinfo_recheck();
	test_procinfo_bounded();
	test_procinfo_sweep();
	test_procinfo_environ();
	test_same_node_links();
	test_same_node_client_seen_late();
	test_kernel_root_adopts_root_client();
	test_tables_grow_and_shrink();
	test_injected_in_data();
	test_address_strings();
	test_proxy_source();
	test_host_ports();
	return zs_test_done("test_agent");
}
