// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* graph.h's tables as Prometheus text, JSON (/api/graph) and Graphviz DOT. */
#include "graph.h"

#include "graph_tables.h"
#include "span.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends name="value" (escaped, comma-separated) at key+*o; stops at cap. */
static void label(char *key, size_t cap, size_t *o, const char *name, const char *value)
{
	size_t n = *o;

	if (n + 1 >= cap)
		return;
	n += (size_t)snprintf(key + n, cap - n, "%s%s=\"", n ? "," : "", name);
	for (; *value && n + 3 < cap; value++) {
		char c = *value;

		if (c == '\\' || c == '"')
			key[n++] = '\\';
		else if (c == '\n')
			key[n++] = '\\', c = 'n';
		else if ((unsigned char)c < 0x20)
			c = '?';
		key[n++] = c;
	}
	if (n + 1 < cap)
		key[n++] = '"';
	key[n < cap ? n : cap - 1] = 0;
	*o = n;
}

/* The Prometheus label set of a RED series. */
static void red_prom_labels(const struct zs_red_labels *l, char *key, size_t cap)
{
	char status[12] = "", port[8];
	size_t o = 0;

	key[0] = 0;
	if (l->status)
		snprintf(status, sizeof(status), "%d", l->status);
	label(key, cap, &o, "service_name", l->service);
	label(key, cap, &o, "http_request_method", l->method);
	if (l->kind == ZS_KIND_SERVER) {
		label(key, cap, &o, "http_route", l->route);
	} else {
		snprintf(port, sizeof(port), "%u", l->server_port);
		label(key, cap, &o, "server_address", l->server_address);
		label(key, cap, &o, "server_port", port);
	}
	label(key, cap, &o, "http_response_status_code", status);
	if (l->error_type[0])
		label(key, cap, &o, "error_type", l->error_type);
	label(key, cap, &o, "url_scheme", l->scheme);
}

static void edge_labels(const struct zs_edge *e, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = 0;
	label(out, cap, &o, "client", e->client);
	label(out, cap, &o, "server", e->server);
}

/* OpenMetrics exemplar of a bucket: the latest sampled span that fell in it. */
static void exemplar(struct zs_sbuf *b, const struct zs_exemplar *x)
{
	zs_sb_printf(b, " # {trace_id=\"");
	zs_sb_hex(b, x->trace_id, 16);
	zs_sb_printf(b, "\",span_id=\"");
	zs_sb_hex(b, x->span_id, 8);
	zs_sb_printf(b, "\"} %.9g %llu.%03llu", x->value,
		     (unsigned long long)(x->unix_ns / 1000000000ULL),
		     (unsigned long long)(x->unix_ns % 1000000000ULL / 1000000ULL));
}

static void render_hist(struct zs_sbuf *b, const char *name, const char *labels,
			const struct zs_hist *h, bool om)
{
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i <= ZS_GRAPH_BOUNDS; i++) {
		cum += h->buckets[i];
		if (i < ZS_GRAPH_BOUNDS)
			zs_sb_printf(b, "%s_bucket{%s,le=\"%g\"} %llu", name, labels,
				     zs_graph_bounds[i], (unsigned long long)cum);
		else
			zs_sb_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu", name, labels,
				     (unsigned long long)cum);
		if (om && h->ex[i].unix_ns)
			exemplar(b, &h->ex[i]);
		zs_sb_printf(b, "\n");
	}
	zs_sb_printf(b, "%s_sum{%s} %.9g\n%s_count{%s} %llu\n", name, labels, h->sum, name, labels,
		     (unsigned long long)h->count);
}

void zs_graph_render_prom(struct zs_sbuf *b, bool om)
{
	static const struct {
		uint8_t kind;
		const char *name, *help;
	} red[] = {
		{ ZS_KIND_SERVER, "http_server_request_duration_seconds",
		  "Duration of HTTP server requests (http.server.request.duration)" },
		{ ZS_KIND_CLIENT, "http_client_request_duration_seconds",
		  "Duration of HTTP client requests (http.client.request.duration)" },
	};
	const struct zs_graph_tables *t = zs_graph_lock();
	char labels[640];
	size_t i, k;
	const struct zs_series *x;
	const struct zs_edge *e;

	for (k = 0; k < 2; k++) {
		zs_sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", red[k].name, red[k].help,
			     red[k].name);
		for (i = 0; i < ZS_GRAPH_HASH; i++)
			for (x = t->series[i]; x; x = x->next)
				if (x->l.kind == red[k].kind) {
					red_prom_labels(&x->l, labels, sizeof(labels));
					render_hist(b, red[k].name, labels, &x->h, om);
				}
	}
	for (k = 0; k < 2; k++) {
		const char *fam =
			k ? "traces_service_graph_request_failed" : "traces_service_graph_request";

		zs_sb_printf(
			b, "# HELP %s%s %s requests between two services\n# TYPE %s%s counter\n",
			fam, om ? "" : "_total", k ? "Failed" : "All", fam, om ? "" : "_total");
		for (i = 0; i < ZS_GRAPH_HASH; i++)
			for (e = t->edges[i]; e; e = e->next) {
				edge_labels(e, labels, sizeof(labels));
				zs_sb_printf(b, "%s_total{%s} %llu\n", fam, labels,
					     (unsigned long long)(k ? e->failed : e->total));
			}
	}
	for (k = 0; k < 2; k++) {
		const char *name = k ? "traces_service_graph_request_client_seconds"
				     : "traces_service_graph_request_server_seconds";

		zs_sb_printf(b, "# HELP %s Request duration seen by the %s\n# TYPE %s histogram\n",
			     name, k ? "client" : "server", name);
		for (i = 0; i < ZS_GRAPH_HASH; i++)
			for (e = t->edges[i]; e; e = e->next) {
				edge_labels(e, labels, sizeof(labels));
				render_hist(b, name, labels, k ? &e->client_s : &e->server_s, om);
			}
	}
	zs_graph_unlock();
}

static void json_str(struct zs_sbuf *b, const char *s)
{
	zs_sb_printf(b, "\"");
	zs_sb_escaped(b, s);
	zs_sb_printf(b, "\"");
}

/* Is name a node already written? (services first, then edge ends) */
static int node_known(const char *name, struct zs_sbuf *seen)
{
	const char *p;
	size_t n = strlen(name);

	for (p = seen->p; p && (p = strstr(p, name)) != NULL; p++)
		if ((p == seen->p || p[-1] == '\n') && p[n] == '\n')
			return 1;
	zs_sb_printf(seen, "%s\n", name);
	return 0;
}

static void json_virtual_node(struct zs_sbuf *b, const char *name, int *first)
{
	zs_sb_printf(b, "%s{\"id\":", *first ? "" : ",");
	json_str(b, name);
	zs_sb_printf(b, ",\"traced\":false}");
	*first = 0;
}

void zs_graph_render_json(struct zs_sbuf *b, uint64_t now_unix_ns)
{
	struct zs_sbuf seen = { calloc(1, 256), 0, 256 };
	const struct zs_graph_tables *t;
	const struct zs_service *r;
	const struct zs_edge *e;
	int first = 1;
	size_t i;

	if (!seen.p)
		return;
	t = zs_graph_lock();
	zs_sb_printf(b, "{\"time_unix_nano\":%llu,\"nodes\":[", (unsigned long long)now_unix_ns);
	for (i = 0; i < ZS_GRAPH_HASH; i++)
		for (r = t->services[i]; r; r = r->next) {
			node_known(r->name, &seen);
			zs_sb_printf(b, "%s{\"id\":", first ? "" : ",");
			json_str(b, r->name);
			zs_sb_printf(b, ",\"traced\":true,\"pid\":%u,\"exe\":", r->pid);
			json_str(b, r->exe);
			zs_sb_printf(b, ",\"container_id\":");
			json_str(b, r->container_id);
			zs_sb_printf(b,
				     ",\"requests\":%llu,\"errors\":%llu,\"p50_seconds\":%.6f,"
				     "\"p95_seconds\":%.6f,\"routes\":%u}",
				     (unsigned long long)r->served.count,
				     (unsigned long long)r->errors,
				     zs_hist_quantile(&r->served, 0.5),
				     zs_hist_quantile(&r->served, 0.95), r->n);
			first = 0;
		}
	/* the other ends: callers we do not trace ("user"), servers elsewhere */
	for (i = 0; i < ZS_GRAPH_HASH; i++)
		for (e = t->edges[i]; e; e = e->next) {
			if (!node_known(e->client, &seen))
				json_virtual_node(b, e->client, &first);
			if (!node_known(e->server, &seen))
				json_virtual_node(b, e->server, &first);
		}
	zs_sb_printf(b, "],\"edges\":[");
	first = 1;
	for (i = 0; i < ZS_GRAPH_HASH; i++)
		for (e = t->edges[i]; e; e = e->next) {
			zs_sb_printf(b, "%s{\"client\":", first ? "" : ",");
			json_str(b, e->client);
			zs_sb_printf(b, ",\"server\":");
			json_str(b, e->server);
			zs_sb_printf(
				b,
				",\"requests\":%llu,\"failed\":%llu,\"client_p95_seconds\":%.6f,"
				"\"server_p95_seconds\":%.6f}",
				(unsigned long long)e->total, (unsigned long long)e->failed,
				zs_hist_quantile(&e->client_s, 0.95),
				zs_hist_quantile(&e->server_s, 0.95));
			first = 0;
		}
	zs_sb_printf(b, "]}\n");
	zs_graph_unlock();
	free(seen.p);
}

void zs_graph_render_dot(struct zs_sbuf *b)
{
	const struct zs_graph_tables *t = zs_graph_lock();
	const struct zs_service *r;
	const struct zs_edge *e;
	size_t i;

	zs_sb_printf(b, "digraph zerospan {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
	for (i = 0; i < ZS_GRAPH_HASH; i++)
		for (r = t->services[i]; r; r = r->next) {
			zs_sb_printf(b, "  \"");
			zs_sb_escaped(b, r->name);
			zs_sb_printf(b, "\" [label=\"");
			zs_sb_escaped(b, r->name);
			zs_sb_printf(b, "\\n%llu req, %llu err\"];\n",
				     (unsigned long long)r->served.count,
				     (unsigned long long)r->errors);
		}
	for (i = 0; i < ZS_GRAPH_HASH; i++)
		for (e = t->edges[i]; e; e = e->next) {
			zs_sb_printf(b, "  \"");
			zs_sb_escaped(b, e->client);
			zs_sb_printf(b, "\" -> \"");
			zs_sb_escaped(b, e->server);
			zs_sb_printf(b, "\" [label=\"%llu req, %llu failed, p95 %.1f ms\"];\n",
				     (unsigned long long)e->total, (unsigned long long)e->failed,
				     1000 * zs_hist_quantile(e->client_s.count ? &e->client_s
									       : &e->server_s,
							     0.95));
		}
	zs_sb_printf(b, "}\n");
	zs_graph_unlock();
}
