// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* RED metrics and service graph from hand-made spans: counts, edges, bounds. */
#include "graph.h"
#include "graph_tables.h"
#include "metrics.h"
#include "route.h"
#include "zs_test.h"

#include <stdlib.h>

static struct zs_resource svc_a = { .service_name = "frontend" };
static struct zs_resource svc_b = { .service_name = "orders" };
static struct zs_resource svc_c = { .service_name = "edge\"proxy" };

static struct zs_span mk(int kind, struct zs_resource *res, const char *path, int status,
			 const char *peer, double secs)
{
	struct zs_span s;

	memset(&s, 0, sizeof(s));
	s.kind = (uint8_t)kind;
	s.res = res;
	zs_span_set_method(&s, "GET");
	zs_span_set_target(&s, path, false);
	zs_span_set_status(&s, status);
	snprintf(s.scheme, sizeof(s.scheme), "http");
	snprintf(s.peer_service, sizeof(s.peer_service), "%s", peer);
	snprintf(s.server_address, sizeof(s.server_address), "orders.local");
	s.server_port = 8080;
	s.start_ns = 1000000000ULL;
	s.end_ns = s.start_ns + (uint64_t)(secs * 1e9);
	s.trace_flags = 1;
	s.trace_id[0] = 0xab;
	return s;
}

/* The value of the sample line that starts with prefix, -1 if none. */
static double value_of(const char *text, const char *prefix)
{
	const char *p = strstr(text, prefix);

	if (!p || (p != text && p[-1] != '\n'))
		return -1;
	p = strchr(p, ' ');
	return p ? atof(p + 1) : -1;
}

static char *render(void)
{
	struct zs_sbuf b = { malloc(1024), 0, 1024 };

	b.p[0] = 0;
	zs_graph_render_prom(&b, false);
	return b.p;
}

static void edges_and_red(void)
{
	struct zs_span s;
	char *t;
	int i;

	zs_graph_init(&(struct zs_graph_opts){ 100, 1000, 100 });
	/* frontend -> orders, both traced: 3 requests, one 500 */
	for (i = 0; i < 3; i++) {
		s = mk(ZS_KIND_CLIENT, &svc_a, "/orders/7", i == 2 ? 500 : 200, "orders", 0.03);
		zs_graph_observe(&s);
		s = mk(ZS_KIND_SERVER, &svc_b, "/orders/7", i == 2 ? 500 : 200, "frontend", 0.02);
		zs_graph_observe(&s);
		CHECK_STR(s.name, "GET /orders/{id}");
	}
	/* an untraced caller of the proxy (name needs escaping) */
	s = mk(ZS_KIND_SERVER, &svc_c, "/", 404, "", 0.2);
	zs_graph_observe(&s);
	/* frontend calls something off this host */
	s = mk(ZS_KIND_CLIENT, &svc_a, "/x", 200, "", 3);
	zs_graph_observe(&s);
	t = render();
	CHECK(value_of(t, "traces_service_graph_request_total{client=\"frontend\","
			  "server=\"orders\"}") == 3,
	      "%s", t);
	CHECK(value_of(t, "traces_service_graph_request_failed_total{client=\"frontend\","
			  "server=\"orders\"}") == 1,
	      "failed");
	CHECK(value_of(t, "traces_service_graph_request_server_seconds_count{client=\"frontend\","
			  "server=\"orders\"}") == 3,
	      "server seconds count");
	CHECK(value_of(t, "traces_service_graph_request_client_seconds_bucket{client=\"frontend\","
			  "server=\"orders\",le=\"0.025\"}") == 0,
	      "client 0.03 s is above 0.025");
	CHECK(value_of(t, "traces_service_graph_request_client_seconds_bucket{client=\"frontend\","
			  "server=\"orders\",le=\"0.05\"}") == 3,
	      "client buckets cumulative");
	CHECK(value_of(t, "traces_service_graph_request_total{client=\"user\","
			  "server=\"edge\\\"proxy\"}") == 1,
	      "untraced caller, escaped name");
	CHECK(value_of(t, "traces_service_graph_request_total{client=\"frontend\","
			  "server=\"orders.local:8080\"}") == 1,
	      "remote server by address");
	CHECK(value_of(t, "http_server_request_duration_seconds_count{service_name=\"orders\","
			  "http_request_method=\"GET\",http_route=\"/orders/{id}\","
			  "http_response_status_code=\"500\",url_scheme=\"http\"}") == 1,
	      "RED server 500");
	CHECK(value_of(t, "http_server_request_duration_seconds_count{service_name=\"orders\","
			  "http_request_method=\"GET\",http_route=\"/orders/{id}\","
			  "http_response_status_code=\"200\",url_scheme=\"http\"}") == 2,
	      "RED server 200");
	CHECK(value_of(t, "http_client_request_duration_seconds_bucket{service_name=\"frontend\","
			  "http_request_method=\"GET\",server_address=\"orders.local\","
			  "server_port=\"8080\",http_response_status_code=\"200\",url_scheme="
			  "\"http\",le=\"+Inf\"}") == 3,
	      "RED client: two to orders, one off host, same labels");
	free(t);
	/* OpenMetrics: families without _total, exemplars on the buckets hit */
	{
		struct zs_sbuf b = { malloc(1024), 0, 1024 };

		b.p[0] = 0;
		zs_graph_render_prom(&b, true);
		CHECK(strstr(b.p, "# TYPE traces_service_graph_request counter\n") != NULL,
		      "family name");
		CHECK(strstr(b.p, "traces_service_graph_request_total{client=\"frontend\"") != NULL,
		      "sample name keeps _total");
		CHECK(strstr(b.p, "le=\"0.05\"} 3 # {trace_id=\"ab000000000000000000000000000000\","
				  "span_id=\"0000000000000000\"} 0.03 1.030\n") != NULL,
		      "exemplar: %s", b.p);
		CHECK(strstr(b.p, "le=\"0.025\"} 0\n") != NULL, "no exemplar on an empty bucket");
		free(b.p);
	}
	zs_graph_fini();
}

static void bounds(void)
{
	uint64_t before = zs_get(routes_overflow), series_before = zs_get(metric_series_overflow);
	char path[64], *t;
	struct zs_span s;
	int i, n = 0;
	const char *p;

	zs_graph_init(&(struct zs_graph_opts){ 5, 30, 100 });
	/* 10,000 distinct ids: one route */
	for (i = 0; i < 10000; i++) {
		snprintf(path, sizeof(path), "/users/%d", i);
		s = mk(ZS_KIND_SERVER, &svc_b, path, 200, "", 0.001);
		zs_graph_observe(&s);
	}
	CHECK(zs_get(routes_overflow) == before, "ids do not overflow");
	/* 20 distinct words: 4 more routes fit, 16 overflow */
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/page%c", 'a' + i);
		s = mk(ZS_KIND_SERVER, &svc_b, path, 200, "", 0.001);
		zs_graph_observe(&s);
		if (i >= 4)
			CHECK(strcmp(s.route, ZS_ROUTE_OVERFLOW) == 0 &&
				      strcmp(s.name, "GET " ZS_ROUTE_OVERFLOW) == 0,
			      "%s -> %s", path, s.route);
	}
	CHECK(zs_get(routes_overflow) == before + 16, "overflow counted");
	/* series bound: many statuses */
	for (i = 0; i < 100; i++) {
		s = mk(ZS_KIND_CLIENT, &svc_a, "/", 200 + i, "", 0.001);
		zs_graph_observe(&s);
	}
	CHECK(zs_get(metric_series_overflow) > series_before, "series overflow counted");
	t = render();
	for (p = t; (p = strstr(p, "_count{")) != NULL; p++)
		n++;
	CHECK(n <= 30 + 2 * 100, "bounded output: %d count lines", n);
	free(t);
	zs_graph_fini();
}

/* The RED series' labels: a span's, each truncated to its field. Labels
 * that differ only past what their fields hold are one series; a scheme or
 * an error type of its own makes a series of its own. */
static void series_labels(void)
{
	static struct zs_resource long_a, long_b;
	const struct zs_graph_tables *t;
	uint64_t count[8];
	struct zs_series *x;
	struct zs_span s;
	size_t i, n = 0;

	memset(long_a.service_name, 'a', 127);
	memset(long_b.service_name, 'a', 127);
	long_b.service_name[126] = 'b'; /* differs within what the label holds: a series */
	zs_graph_init(&(struct zs_graph_opts){ 100, 1000, 100 });
	s = mk(ZS_KIND_SERVER, &long_a, "/", 200, "", 0.01);
	zs_graph_observe(&s);
	s = mk(ZS_KIND_SERVER, &long_a, "/", 200, "", 0.01);
	zs_graph_observe(&s);
	s = mk(ZS_KIND_SERVER, &long_b, "/", 200, "", 0.01);
	zs_graph_observe(&s);
	s = mk(ZS_KIND_CLIENT, &svc_a, "/", 200, "", 0.01);
	memset(s.server_address, 'h', 200); /* past its label's 128 bytes */
	s.server_address[200] = 0;
	zs_graph_observe(&s);
	s.server_address[150] = 'x'; /* differs only past the label's end */
	zs_graph_observe(&s);
	snprintf(s.scheme, sizeof(s.scheme), "https");
	zs_graph_observe(&s);
	s = mk(ZS_KIND_CLIENT, &svc_a, "/", 0, "", 0.01);
	snprintf(s.error_type, sizeof(s.error_type), "timeout");
	zs_graph_observe(&s);
	snprintf(s.error_type, sizeof(s.error_type), "reset");
	zs_graph_observe(&s);
	t = zs_graph_lock();
	for (i = 0; i < ZS_GRAPH_HASH; i++)
		for (x = t->series[i]; x; x = x->next)
			if (n < 8)
				count[n++] = x->h.count;
	zs_graph_unlock();
	/* long_a (2), long_b (1), the long address (2), https (1), timeout, reset */
	CHECK(n == 6, "%zu series", n);
	for (i = 0; i < n && i < 8; i++)
		CHECK(count[i] >= 1 && count[i] <= 2, "series %zu: %llu spans", i,
		      (unsigned long long)count[i]);
	zs_graph_fini();
}

int main(void)
{
	edges_and_red();
	bounds();
	series_labels();
	return zs_test_done("graph");
}
