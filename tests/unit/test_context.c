// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Trace context: W3C traceparent/tracestate and B3 parsing against the
 * spec's rules, in-process linking (link.c), and the whole record path
 * (events -> conn -> spans) for context extraction, adoption and same-node
 * and same-thread links.
 */
#include "conn.h"
#include "context.h"
#include "events.h"
#include "link.h"
#include "metrics.h"
#include "procinfo.h"
#include "sampler.h"
#include "span.h"
#include "zerospan_abi.h"
#include "zs_test.h"

#include <stdlib.h>

#define TP_OK "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static int tp(const char *v)
{
	struct zs_trace_ctx c;

	return zs_traceparent_parse(v, strlen(v), &c);
}

static void test_traceparent(void)
{
	struct zs_trace_ctx c;
	char out[56];

	CHECK(zs_traceparent_parse(TP_OK, 55, &c) == 0, "valid");
	CHECK(c.trace_id[0] == 0x0a && c.trace_id[15] == 0x9c && c.span_id[7] == 0x31 &&
		      c.flags == 1,
	      "fields");
	zs_traceparent_format(&c, out);
	CHECK_STR(out, TP_OK);
	CHECK(tp("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00") == 0, "unsampled");
	CHECK(tp("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-09") == 0, "unknown flags");
	/* invalid per W3C Trace Context */
	CHECK(tp("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01") < 0, "uppercase");
	CHECK(tp("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") < 0, "version ff");
	CHECK(tp("0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") < 0, "version hex");
	CHECK(tp("00-00000000000000000000000000000000-b7ad6b7169203331-01") < 0, "zero trace");
	CHECK(tp("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01") < 0, "zero parent");
	CHECK(tp("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-") < 0, "v00 longer");
	CHECK(tp("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01") < 0, "short parent");
	CHECK(tp("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") < 0, "separator");
	CHECK(tp("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x") < 0, "flags hex");
	CHECK(tp("00-0af7651916cd43dd8448eb211c8031zc-b7ad6b7169203331-01") < 0, "non-hex");
	CHECK(tp("!duplicate") < 0, "duplicate marker");
	CHECK(tp("") < 0, "empty");
	/* future versions: extra fields after a dash are ignored */
	CHECK(tp("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") == 0, "v01");
	CHECK(tp("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future") == 0,
	      "vcc extra");
	CHECK(tp("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01.what") < 0,
	      "vcc no dash");
}

static void test_b3(void)
{
	struct zs_trace_ctx c;

	CHECK(zs_b3_single_parse(
		      "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90", &c) ==
		      0,
	      "b3 full");
	CHECK(c.trace_id[0] == 0x80 && c.span_id[0] == 0xe4 && c.flags == 1, "b3 fields");
	CHECK(zs_b3_single_parse("64fe8b2a57d3eff7-e457b5a2e4d86bd1", &c) == 0, "b3 64-bit");
	CHECK(c.trace_id[0] == 0 && c.trace_id[8] == 0x64 && c.flags == 1, "zero-extended");
	CHECK(zs_b3_single_parse("64fe8b2a57d3eff7-e457b5a2e4d86bd1-0", &c) == 0 && c.flags == 0,
	      "not sampled");
	CHECK(zs_b3_single_parse("64fe8b2a57d3eff7-e457b5a2e4d86bd1-d", &c) == 0 && c.flags == 1,
	      "debug");
	CHECK(zs_b3_single_parse("0", &c) < 0, "decision only");
	CHECK(zs_b3_single_parse("64FE8B2A57D3EFF7-e457b5a2e4d86bd1", &c) < 0, "uppercase");
	CHECK(zs_b3_single_parse("64fe8b2a57d3eff-e457b5a2e4d86bd1", &c) < 0, "15 digits");
	CHECK(zs_b3_single_parse("64fe8b2a57d3eff7-e457b5a2e4d86bd1-2", &c) < 0, "bad sampled");
	CHECK(zs_b3_single_parse("64fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3", &c) < 0, "bad parent");
	CHECK(zs_b3_multi_parse("463ac35c9f6413ad48485a3953bb6124", "0020000000000001", "1", "",
				&c) == 0 &&
		      c.flags == 1,
	      "multi");
	CHECK(zs_b3_multi_parse("463ac35c9f6413ad", "0020000000000001", "false", "", &c) == 0 &&
		      c.flags == 0,
	      "multi unsampled");
	CHECK(zs_b3_multi_parse("463ac35c9f6413ad", "0020000000000001", "0", "1", &c) == 0 &&
		      c.flags == 1,
	      "debug flag wins");
	CHECK(zs_b3_multi_parse("463ac35c9f6413ad", "", "1", "", &c) < 0, "no span id");
	CHECK(zs_b3_multi_parse("463ac35c9f6413ad", "0020000000000001", "yes", "", &c) < 0,
	      "bad sampled");
}

static void test_tracestate(void)
{
	char many[1024] = "";
	int i;

	CHECK(zs_tracestate_valid("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"), "two");
	CHECK(zs_tracestate_valid("a=1 , ,b=2"), "OWS and empty member");
	CHECK(zs_tracestate_valid("fw529a3039@dt=bla"), "multi-tenant");
	CHECK(zs_tracestate_valid("1tenant@sys=x"), "tenant starts with digit");
	CHECK(!zs_tracestate_valid("Congo=x"), "uppercase key");
	CHECK(!zs_tracestate_valid("1abc=x"), "simple key starts with digit");
	CHECK(!zs_tracestate_valid("a=b=c"), "= in value");
	CHECK(!zs_tracestate_valid("novalue"), "no =");
	CHECK(!zs_tracestate_valid("t@abcdefghijklmnop=1"), "system id > 14");
	CHECK(!zs_tracestate_valid("a@b@c=1"), "two @");
	for (i = 0; i < 33; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sk%d=v", i ? "," : "",
			 i);
	CHECK(!zs_tracestate_valid(many), "33 members");
	*strrchr(many, ',') = 0;
	CHECK(zs_tracestate_valid(many), "32 members");
}

static void test_sampler(void)
{
	struct zs_sampler sm;
	uint8_t low[16] = { 0 }, high[16], id[16];
	int i, n = 0;

	memset(high, 0xff, sizeof(high));
	CHECK(zs_sampler_parse(&sm, NULL, NULL) == 0 && !sm.ignore_parent &&
		      sm.root == ZS_SAMPLER_ALWAYS_ON,
	      "default parentbased_always_on");
	CHECK(zs_sampler_decide(&sm, false, false, low), "root sampled");
	CHECK(!zs_sampler_decide(&sm, true, false, low), "follows an unsampled parent");
	CHECK(zs_sampler_parse(&sm, "always_on", NULL) == 0 &&
		      zs_sampler_decide(&sm, true, false, low),
	      "always_on ignores the parent");
	CHECK(zs_sampler_parse(&sm, "parentbased_always_off", "") == 0 &&
		      !zs_sampler_decide(&sm, false, true, low) &&
		      zs_sampler_decide(&sm, true, true, low),
	      "parentbased_always_off");
	CHECK(zs_sampler_parse(&sm, "traceidratio", "0.25") == 0 && sm.ratio == 0.25, "ratio");
	CHECK(zs_sampler_decide(&sm, false, false, low) &&
		      !zs_sampler_decide(&sm, false, true, high),
	      "ratio by trace id");
	for (i = 0; i < 4000; i++) {
		zs_ids_random(id, sizeof(id));
		n += zs_sampler_decide(&sm, false, false, id);
	}
	CHECK(n > 800 && n < 1200, "about a quarter sampled: %d of 4000", n);
	CHECK(zs_sampler_parse(&sm, "traceidratio", "1.5") < 0, "ratio > 1");
	CHECK(zs_sampler_parse(&sm, "traceidratio", "abc") < 0, "ratio not a number");
	CHECK(zs_sampler_parse(&sm, "jaeger_remote", NULL) < 0, "unknown sampler");
}

static struct zs_span *mk(uint8_t id, const char *method, const char *path, int kind)
{
	struct zs_span *s = calloc(1, sizeof(*s));

	memset(s->trace_id, id, 16);
	memset(s->span_id, id, 8);
	s->trace_flags = 1;
	s->kind = (uint8_t)kind;
	zs_strlcpy(s->method, method, sizeof(s->method));
	zs_strlcpy(s->path, path, sizeof(s->path));
	return s;
}

/* A Go program: requests keyed by goroutine (ZS_FLOW_BIT), each serving
 * one; the call its writer sends names the handler's goroutine. */
static void link_goroutines(struct zs_span *a, struct zs_span *b, struct zs_span *c)
{
	const uint32_t ga = ZS_FLOW_BIT | 0x1234, gb = ZS_FLOW_BIT | 0x5678;
	uint64_t before = zs_metrics.links_goroutine;

	zs_link_server_begin(400, ga, a);
	zs_link_server_begin(400, gb, b);
	memset(c, 0, sizeof(*c));
	zs_strlcpy(c->path, "/x", sizeof(c->path));
	CHECK(zs_link_client(400, gb, 0, c) && c->parent_span_id[0] == 0xb2,
	      "the handler goroutine's request, whatever path");
	CHECK(zs_metrics.links_goroutine == before + 1, "counted as a goroutine's link");
	memset(c, 0, sizeof(*c));
	zs_strlcpy(c->path, "/x", sizeof(c->path));
	CHECK(!zs_link_client(400, ZS_FLOW_BIT | 0x9999, 0, c),
	      "a goroutine serving nothing: two in flight, ambiguous");
	zs_link_server_end(400, a);
	zs_link_server_end(400, b);
}

static void test_link(void)
{
	struct zs_span *a = mk(0xa1, "GET", "/a", ZS_KIND_SERVER);
	struct zs_span *b = mk(0xb2, "GET", "/b", ZS_KIND_SERVER);
	struct zs_span *c = mk(0, "GET", "/x", ZS_KIND_CLIENT);

	CHECK(zs_link_init(16) == 0, "init");
	/* thread per request */
	zs_link_server_begin(100, 101, a);
	zs_link_server_begin(100, 102, b);
	CHECK(zs_link_client(100, 102, 0, c) && c->parent_span_id[0] == 0xb2 &&
		      c->trace_id[15] == 0xb2,
	      "same thread");
	/* a worker thread with two requests in flight in its process: ambiguous */
	memset(c, 0, sizeof(*c));
	zs_strlcpy(c->path, "/x", sizeof(c->path));
	CHECK(!zs_link_client(100, 103, 0, c) && !c->has_parent, "ambiguous");
	/* ... unless method and path match one (a proxy) */
	zs_strlcpy(c->method, "GET", sizeof(c->method));
	zs_strlcpy(c->path, "/a", sizeof(c->path));
	CHECK(zs_link_client(100, 103, 0, c) && c->parent_span_id[0] == 0xa1, "path match");
	/* one request in flight: any thread, and child processes, link to it */
	zs_link_server_end(100, b);
	memset(c, 0, sizeof(*c));
	CHECK(zs_link_client(100, 104, 0, c) && c->parent_span_id[0] == 0xa1, "worker pool");
	memset(c, 0, sizeof(*c));
	CHECK(zs_link_client(200, 200, 100, c) && c->parent_span_id[0] == 0xa1, "child process");
	memset(c, 0, sizeof(*c));
	CHECK(!zs_link_client(200, 200, 0, c), "unrelated process");
	zs_link_server_end(100, a);
	memset(c, 0, sizeof(*c));
	CHECK(!zs_link_client(100, 101, 0, c), "nothing in flight after the responses");
	/* an event loop: two requests read by one thread, the proxied one matches */
	zs_link_server_begin(300, 300, a);
	zs_link_server_begin(300, 300, b);
	memset(c, 0, sizeof(*c));
	zs_strlcpy(c->method, "GET", sizeof(c->method));
	zs_strlcpy(c->path, "/b", sizeof(c->path));
	CHECK(zs_link_client(300, 300, 0, c) && c->parent_span_id[0] == 0xb2, "event loop proxy");
	/* ... and a call on a connection it made while handling a (read at 10,
	 * connect() at 15), b read at 20: a, though other paths, by connect() */
	a->start_ns = 10;
	b->start_ns = 20;
	memset(c, 0, sizeof(*c));
	zs_strlcpy(c->path, "/x", sizeof(c->path));
	CHECK(!zs_link_client(300, 300, 0, c), "event loop, other path: ambiguous");
	CHECK(zs_link_client_connect(300, 300, 15, c) && c->parent_span_id[0] == 0xa1,
	      "connected while handling a");
	link_goroutines(a, b, c);
	memset(c, 0, sizeof(*c));
	CHECK(zs_link_client_connect(300, 300, 25, c) && c->parent_span_id[0] == 0xb2,
	      "connected after reading b");
	memset(c, 0, sizeof(*c));
	CHECK(!zs_link_client_connect(300, 300, 5, c) && !c->has_parent,
	      "connected before either: none");
	CHECK(!zs_link_client_connect(300, 301, 25, c), "another thread connected: none");
	zs_link_fini();
	free(a);
	free(b);
	free(c);
}

/* The record path: synthetic ringbuf records, spans caught at the sink. */
static struct zs_span *caught[16];
static int n_caught;

static void catch_span(struct zs_span *s)
{
	if (n_caught < 16)
		caught[n_caught++] = s;
	else
		zs_span_free(s);
}

static void conn_rec(struct zs_conn_event *evp, uint64_t cookie, uint32_t pid, int role,
		     uint16_t lport, uint16_t rport)
{
	struct zs_conn_event ev = { 0 };

	ev.hdr.type = ZS_EV_CONN;
	ev.hdr.size = sizeof(ev);
	ev.hdr.pid = pid;
	ev.hdr.cookie = cookie;
	ev.hdr.ts_ns = 1000;
	ev.family = 2;
	ev.laddr[10] = ev.laddr[11] = ev.raddr[10] = ev.raddr[11] = 0xff;
	ev.laddr[12] = ev.raddr[12] = 127;
	ev.laddr[15] = ev.raddr[15] = 1;
	ev.lport = lport;
	ev.rport = rport;
	ev.role = (uint8_t)role;
	ev.netns = 4026531840u;
	*evp = ev;
}

static void conn_ev(uint64_t cookie, uint32_t pid, int role, uint16_t lport, uint16_t rport)
{
	struct zs_conn_event ev;

	conn_rec(&ev, cookie, pid, role, lport, rport);
	zs_events_handle(NULL, &ev, sizeof(ev));
}

static uint64_t positions[16][2];

/* A DATA record of bytes at buf (room for 1024 of them); returns its size. */
static size_t data_rec(uint8_t *buf, uint64_t cookie, uint32_t pid, uint32_t tid, int dir,
		       const char *bytes)
{
	struct zs_data_event *ev = (void *)buf;
	size_t n = strlen(bytes);

	memset(ev, 0, sizeof(*ev));
	ev->hdr.type = ZS_EV_DATA;
	ev->hdr.size = (uint16_t)(sizeof(*ev) + n);
	ev->hdr.pid = pid;
	ev->hdr.tid = tid;
	ev->hdr.cookie = cookie;
	ev->hdr.ts_ns = 2000;
	ev->dir = (uint8_t)dir;
	ev->start = strncmp(bytes, "HTTP/", 5) == 0 ? ZS_START_RESPONSE : ZS_START_REQUEST;
	ev->pos = positions[cookie][dir];
	ev->len = n;
	ev->cap_len = (uint32_t)n;
	positions[cookie][dir] += n;
	memcpy(buf + sizeof(*ev), bytes, n);
	return sizeof(*ev) + n;
}

static void data_ev(uint64_t cookie, uint32_t pid, uint32_t tid, int dir, const char *bytes)
{
	uint8_t buf[sizeof(struct zs_data_event) + 1024];

	zs_events_handle(NULL, buf, data_rec(buf, cookie, pid, tid, dir, bytes));
}

static struct zs_span *find(int kind, const char *path)
{
	int i;

	for (i = 0; i < n_caught; i++)
		if (caught[i]->kind == kind && strcmp(caught[i]->path, path) == 0)
			return caught[i];
	return NULL;
}

/* The record path's tables, empty, with spans caught at the sink; and their
 * end, the caught spans freed. */
static void record_path_begin(void)
{
	struct zs_conn_opts o = { .max_conns = 64, .idle_timeout_s = 60, .capture_size = 4096 };

	zs_procinfo_init("/nonexistent", 16);
	CHECK(zs_conn_table_init(&o) == 0, "table");
	zs_span_sink = catch_span;
}

static void record_path_end(void)
{
	zs_conn_table_fini();
	while (n_caught)
		zs_span_free(caught[--n_caught]);
	zs_procinfo_fini();
}

#define RESP "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

static void test_record_path(void)
{
	struct zs_span *front, *out, *back, *inv, *inst;
	uint8_t want_trace[16] = { 0x0a, 0xf7, 0x65, 0x19 };

	record_path_begin();
	/* front (pid 10) serves /front on conn 1 with a traceparent, and its
	 * thread 11 calls the back on conn 2 (client, 127.0.0.1:5000 -> :6000);
	 * the back (pid 20) reads it on conn 3 (server, :6000 <- :5000). */
	conn_ev(1, 10, ZS_ROLE_SERVER, 8080, 4000);
	conn_ev(2, 10, ZS_ROLE_CLIENT, 5000, 6000);
	conn_ev(3, 20, ZS_ROLE_SERVER, 6000, 5000);
	data_ev(1, 10, 11, ZS_DIR_INGRESS,
		"GET /front HTTP/1.1\r\nHost: f\r\ntraceparent: " TP_OK
		"\r\ntracestate: congo=t61rcWkgMzE\r\ntracestate: rojo=00f067aa0ba902b7\r\n\r\n");
	data_ev(2, 10, 11, ZS_DIR_EGRESS, "GET /back HTTP/1.1\r\nHost: b\r\n\r\n");
	data_ev(3, 20, 21, ZS_DIR_INGRESS, "GET /back HTTP/1.1\r\nHost: b\r\n\r\n");
	data_ev(3, 20, 21, ZS_DIR_EGRESS, RESP);
	data_ev(2, 10, 11, ZS_DIR_INGRESS, RESP);
	data_ev(1, 10, 11, ZS_DIR_EGRESS, RESP);
	/* an invalid traceparent starts a new trace; an instrumented client's
	 * own traceparent is kept */
	data_ev(1, 10, 11, ZS_DIR_INGRESS,
		"GET /invalid HTTP/1.1\r\ntraceparent: "
		"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01\r\n\r\n");
	data_ev(1, 10, 11, ZS_DIR_EGRESS, RESP);
	data_ev(2, 10, 12, ZS_DIR_EGRESS,
		"GET /inst HTTP/1.1\r\ntraceparent: "
		"00-11111111111111111111111111111111-2222222222222222-01\r\n\r\n");
	data_ev(2, 10, 12, ZS_DIR_INGRESS, RESP);
	/* an unsampled incoming trace: parentbased_always_on does not export it */
	data_ev(1, 10, 11, ZS_DIR_INGRESS,
		"GET /unsampled HTTP/1.1\r\ntraceparent: "
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00\r\n\r\n");
	data_ev(1, 10, 11, ZS_DIR_EGRESS, RESP);
	/* SERVER spans from loopback clients not seen wait for them (conn.c: park()) */
	zs_conn_release_parked(UINT64_MAX);

	front = find(ZS_KIND_SERVER, "/front");
	out = find(ZS_KIND_CLIENT, "/back");
	back = find(ZS_KIND_SERVER, "/back");
	inv = find(ZS_KIND_SERVER, "/invalid");
	inst = find(ZS_KIND_CLIENT, "/inst");
	CHECK(front && out && back && inv && inst, "all spans built (%d)", n_caught);
	if (!(front && out && back && inv && inst)) {
		record_path_end();
		return;
	}
	CHECK(memcmp(front->trace_id, want_trace, 4) == 0 && front->has_parent &&
		      front->parent_span_id[0] == 0xb7,
	      "SERVER joins the incoming trace");
	CHECK_STR(front->tracestate, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
	CHECK(memcmp(out->trace_id, front->trace_id, 16) == 0 &&
		      memcmp(out->parent_span_id, front->span_id, 8) == 0,
	      "CLIENT is a child of the request its thread serves");
	CHECK_STR(out->tracestate, front->tracestate);
	CHECK(memcmp(back->trace_id, front->trace_id, 16) == 0 &&
		      memcmp(back->parent_span_id, out->span_id, 8) == 0,
	      "same-node SERVER is a child of the CLIENT span that sent it");
	CHECK(memcmp(inv->trace_id, front->trace_id, 16) != 0 && !inv->has_parent,
	      "invalid traceparent: new trace");
	CHECK(inst->trace_id[0] == 0x11 && inst->parent_span_id[0] == 0x22 &&
		      inst->trace_flags == 1,
	      "instrumented client keeps its context");
	CHECK(!find(ZS_KIND_SERVER, "/unsampled") && n_caught == 5, "unsampled trace not exported");
	record_path_end();
}

/* The kernel sends a connection's CONN record and its first DATA record in
 * one ringbuf sample, back to back: both are handled, in order. */
static void test_records_in_one_sample(void)
{
	uint8_t buf[sizeof(struct zs_conn_event) + sizeof(struct zs_data_event) + 1024];
	uint64_t received = zs_metrics.events_received, malformed = zs_metrics.events_malformed;
	struct zs_conn_event ce;
	struct zs_event_hdr bad = { .type = ZS_EV_DATA, .size = 4000 };
	struct zs_span *s;
	size_t n;

	record_path_begin();
	conn_rec(&ce, 5, 30, ZS_ROLE_SERVER, 7000, 4100);
	memcpy(buf, &ce, sizeof(ce));
	n = sizeof(ce) + data_rec(buf + sizeof(ce), 5, 30, 31, ZS_DIR_INGRESS,
				  "GET /one-sample HTTP/1.1\r\nHost: s\r\n\r\n");
	zs_events_handle(NULL, buf, n);
	CHECK(zs_metrics.events_received - received == 2 &&
		      zs_metrics.events_malformed == malformed,
	      "two records in one sample (%llu received)",
	      (unsigned long long)(zs_metrics.events_received - received));
	data_ev(5, 30, 31, ZS_DIR_EGRESS, RESP);
	zs_conn_release_parked(UINT64_MAX);
	s = find(ZS_KIND_SERVER, "/one-sample");
	CHECK(s && s->server_port == 7000 && s->peer_port == 4100,
	      "the DATA record after the CONN record in its sample makes the SERVER span");
	/* a record whose size runs past the sample's end: what came before it
	 * is handled, the rest counted malformed */
	conn_rec(&ce, 6, 30, ZS_ROLE_SERVER, 7000, 4101);
	memcpy(buf, &ce, sizeof(ce));
	memcpy(buf + sizeof(ce), &bad, sizeof(bad));
	n = zs_conn_count();
	zs_events_handle(NULL, buf, sizeof(ce) + 200);
	CHECK(zs_conn_count() == n + 1 && zs_metrics.events_malformed == malformed + 1,
	      "a bad record after a good one: the good one taken, the bad one counted");
	/* a zero size cannot loop */
	memset(buf, 0, sizeof(struct zs_event_hdr) * 2);
	zs_events_handle(NULL, buf, sizeof(struct zs_event_hdr) * 2);
	CHECK(zs_metrics.events_malformed == malformed + 2, "a zero-size record: malformed");
	record_path_end();
}

/* A SERVER span with its context on the wire (or from the kernel) whose
 * loopback client is not seen yet (still in its send) waits for it to name
 * its peer: without the wait, the service graph calls that client "user". */
static void test_server_waits_for_its_clients_name(void)
{
	struct zs_conn_event ce;
	struct zs_span *s;
	uint64_t missed = zs_metrics.links_same_node_missed;

	record_path_begin();
	conn_ev(6, 40, ZS_ROLE_SERVER, 6100, 5100);
	data_ev(6, 40, 41, ZS_DIR_INGRESS, "GET /named HTTP/1.1\r\ntraceparent: " TP_OK "\r\n\r\n");
	data_ev(6, 40, 41, ZS_DIR_EGRESS, RESP);
	CHECK(!find(ZS_KIND_SERVER, "/named"), "the SERVER span waits for its client");
	conn_rec(&ce, 7, 50, ZS_ROLE_CLIENT, 5100, 6100);
	memcpy(ce.comm, "clientapp", 10);
	zs_events_handle(NULL, &ce, sizeof(ce));
	data_ev(7, 50, 51, ZS_DIR_EGRESS, "GET /named HTTP/1.1\r\ntraceparent: " TP_OK "\r\n\r\n");
	s = find(ZS_KIND_SERVER, "/named");
	CHECK(s && strcmp(s->peer_service, "clientapp") == 0,
	      "...and leaves named by it once the client's request is seen (%s)",
	      s ? s->peer_service : "not yet");
	CHECK(s && s->has_parent && s->parent_span_id[0] == 0xb7, "its context is the wire's");
	/* an untraced loopback client: the wait ends, once */
	conn_ev(8, 40, ZS_ROLE_SERVER, 6100, 5101);
	data_ev(8, 40, 41, ZS_DIR_INGRESS,
		"GET /unnamed HTTP/1.1\r\ntraceparent: " TP_OK "\r\n\r\n");
	data_ev(8, 40, 41, ZS_DIR_EGRESS, RESP);
	zs_conn_release_parked(UINT64_MAX);
	s = find(ZS_KIND_SERVER, "/unnamed");
	CHECK(s && !s->peer_service[0] && zs_metrics.links_same_node_missed == missed,
	      "an unseen client: the span leaves unnamed, no link counted missed");
	record_path_end();
}

int main(void)
{
	test_traceparent();
	test_b3();
	test_tracestate();
	test_sampler();
	test_link();
	test_record_path();
	test_records_in_one_sample();
	test_server_waits_for_its_clients_name();
	return zs_test_done("test_context");
}
