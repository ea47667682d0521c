// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "graph.h"

#include "metrics.h"
#include "route.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seconds: the semantic conventions' http.*.request.duration advice. */
static const double bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
				 0.5,	0.75, 1,     2.5,  5,	  7.5, 10 };
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct exemplar {
	uint8_t trace_id[16];
	double value;
	uint64_t unix_ns;
};

struct hist {
	uint64_t buckets[N_BOUNDS + 1]; /* last: +Inf */
	uint64_t count;
	double sum;
	struct exemplar ex[N_BOUNDS + 1]; /* latest sampled span per bucket */
};

/* A RED series: kind and its labels, rendered once into key. */
struct series {
	uint8_t kind;
	char key[640]; /* label pairs, Prometheus-escaped */
	struct hist h;
	struct series *next;
};

struct edge {
	char client[128], server[128];
	uint64_t total, failed;
	struct hist server_s, client_s;
	struct edge *next;
};

/* A service: the routes it served (as hashes), its process, what it served. */
struct service {
	char service[128];
	char exe[64];
	uint32_t pid; /* the latest process seen */
	uint32_t n;
	uint64_t *hashes;   /* max_routes */
	uint64_t errors;    /* SERVER spans in error */
	struct hist served; /* SERVER span durations */
	struct service *next;
};

#define HASH_SIZE 4096
static struct zs_graph_opts opts;
static struct series *series_tab[HASH_SIZE];
static struct edge *edge_tab[HASH_SIZE];
static struct service *route_tab[HASH_SIZE];
static uint32_t n_series, n_edges, n_services;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t fnv(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

#define FNV0 0xcbf29ce484222325ULL

int zs_graph_init(const struct zs_graph_opts *o)
{
	opts = *o;
	return 0;
}

void zs_graph_fini(void)
{
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < HASH_SIZE; i++) {
		while (series_tab[i]) {
			struct series *n = series_tab[i]->next;

			free(series_tab[i]);
			series_tab[i] = n;
		}
		while (edge_tab[i]) {
			struct edge *n = edge_tab[i]->next;

			free(edge_tab[i]);
			edge_tab[i] = n;
		}
		while (route_tab[i]) {
			struct service *n = route_tab[i]->next;

			free(route_tab[i]->hashes);
			free(route_tab[i]);
			route_tab[i] = n;
		}
	}
	n_series = n_edges = n_services = 0;
	pthread_mutex_unlock(&lock);
}

void zs_graph_peer_name(const struct zs_span *s, char *out, size_t cap)
{
	if (s->peer_service[0])
		snprintf(out, cap, "%s", s->peer_service);
	else if (s->kind == ZS_KIND_SERVER)
		snprintf(out, cap, "user");
	else if (s->server_address[0] && s->server_port)
		snprintf(out, cap, "%s:%u", s->server_address, s->server_port);
	else if (s->server_address[0])
		snprintf(out, cap, "%s", s->server_address);
	else
		snprintf(out, cap, "%s:%u", s->peer_address, s->peer_port);
}

/* The entry of service, made on first sight; NULL when the table is full. */
static struct service *service_get(const char *service)
{
	uint64_t b = fnv(service, FNV0) % HASH_SIZE;
	struct service *r;

	for (r = route_tab[b]; r && strcmp(r->service, service); r = r->next)
		;
	if (r)
		return r;
	if (n_services >= opts.max_series)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r || !(r->hashes = calloc(opts.max_routes, sizeof(uint64_t)))) {
		free(r);
		return NULL;
	}
	snprintf(r->service, sizeof(r->service), "%s", service);
	r->next = route_tab[b];
	route_tab[b] = r;
	n_services++;
	return r;
}

/* Is route one of the service's first max_routes routes? */
static int route_admitted(struct service *r, const char *route)
{
	uint64_t h = fnv(route, FNV0);
	uint32_t i;

	if (!r)
		return 0;
	for (i = 0; i < r->n; i++)
		if (r->hashes[i] == h)
			return 1;
	if (r->n >= opts.max_routes)
		return 0;
	r->hashes[r->n++] = h;
	return 1;
}

static void hist_add(struct hist *h, double v, const struct zs_span *s)
{
	size_t i = 0;

	while (i < N_BOUNDS && v > bounds[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum += v;
	if (s->trace_flags & 1) {
		memcpy(h->ex[i].trace_id, s->trace_id, 16);
		h->ex[i].value = v;
		h->ex[i].unix_ns = s->end_ns;
	}
}

/* Appends name="value" (escaped, comma-separated) at key+*o; truncates at cap. */
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

/* The label set of s's RED series into key. */
static void series_key(const struct zs_span *s, const char *service, char *key, size_t cap)
{
	char status[8] = "", port[8];
	size_t o = 0;

	key[0] = 0;
	if (s->status)
		snprintf(status, sizeof(status), "%d", s->status);
	label(key, cap, &o, "service_name", service);
	label(key, cap, &o, "http_request_method", s->method);
	if (s->kind == ZS_KIND_SERVER) {
		label(key, cap, &o, "http_route", s->route);
	} else {
		snprintf(port, sizeof(port), "%u", s->server_port);
		label(key, cap, &o, "server_address",
		      s->server_address[0] ? s->server_address : s->peer_address);
		label(key, cap, &o, "server_port", port);
	}
	label(key, cap, &o, "http_response_status_code", status);
	if (s->error_type[0] && !s->status)
		label(key, cap, &o, "error_type", s->error_type);
	label(key, cap, &o, "url_scheme", s->scheme);
}

static struct series *series_get(uint8_t kind, const char *key)
{
	uint64_t b = fnv(key, FNV0 + kind) % HASH_SIZE;
	struct series *x;

	for (x = series_tab[b]; x; x = x->next)
		if (x->kind == kind && strcmp(x->key, key) == 0)
			return x;
	if (n_series >= opts.max_series)
		return NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->kind = kind;
	snprintf(x->key, sizeof(x->key), "%s", key);
	x->next = series_tab[b];
	series_tab[b] = x;
	n_series++;
	return x;
}

static struct edge *edge_get(const char *client, const char *server)
{
	uint64_t b = fnv(server, fnv(client, FNV0) ^ 0x2f) % HASH_SIZE;
	struct edge *e;

	for (e = edge_tab[b]; e; e = e->next)
		if (strcmp(e->client, client) == 0 && strcmp(e->server, server) == 0)
			return e;
	if (n_edges >= opts.max_edges)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->client, sizeof(e->client), "%s", client);
	snprintf(e->server, sizeof(e->server), "%s", server);
	e->next = edge_tab[b];
	edge_tab[b] = e;
	n_edges++;
	return e;
}

void zs_graph_observe(struct zs_span *s)
{
	const char *service = s->res ? s->res->service_name : "unknown";
	char key[640], peer[160];
	double secs = s->end_ns > s->start_ns ? (double)(s->end_ns - s->start_ns) / 1e9 : 0;
	struct service *svc;
	struct series *x;
	struct edge *e;

	zs_graph_peer_name(s, peer, sizeof(peer));
	pthread_mutex_lock(&lock);
	svc = service_get(service);
	if (svc && s->res) {
		svc->pid = s->res->pid;
		snprintf(svc->exe, sizeof(svc->exe), "%s", s->res->exe_name);
	}
	if (svc && s->kind == ZS_KIND_SERVER) {
		hist_add(&svc->served, secs, s);
		svc->errors += s->error;
	}
	if (s->kind == ZS_KIND_SERVER && !route_admitted(svc, s->route)) {
		zs_count(routes_overflow);
		snprintf(s->route, sizeof(s->route), "%s", ZS_ROUTE_OVERFLOW);
		if (strcmp(s->method, "_OTHER") != 0)
			snprintf(s->name, sizeof(s->name), "%s %s", s->method, s->route);
	}
	series_key(s, service, key, sizeof(key));
	x = series_get(s->kind, key);
	if (x)
		hist_add(&x->h, secs, s);
	else
		zs_count(metric_series_overflow);
	/* A request between two traced processes is counted once, by its
	 * CLIENT span; the SERVER span adds the server's latency. */
	e = s->kind == ZS_KIND_CLIENT ? edge_get(service, peer) : edge_get(peer, service);
	if (!e) {
		zs_count(graph_edges_overflow);
	} else if (s->kind == ZS_KIND_CLIENT) {
		e->total++;
		e->failed += s->error;
		hist_add(&e->client_s, secs, s);
	} else {
		if (!s->peer_service[0]) {
			e->total++;
			e->failed += s->error;
		}
		hist_add(&e->server_s, secs, s);
	}
	pthread_mutex_unlock(&lock);
}

static void render_hist(struct zs_sbuf *b, const char *name, const char *labels,
			const struct hist *h)
{
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i <= N_BOUNDS; i++) {
		cum += h->buckets[i];
		if (i < N_BOUNDS)
			zs_sb_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, bounds[i],
				     (unsigned long long)cum);
		else
			zs_sb_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
				     (unsigned long long)cum);
	}
	zs_sb_printf(b, "%s_sum{%s} %.9g\n%s_count{%s} %llu\n", name, labels, h->sum, name, labels,
		     (unsigned long long)h->count);
}

static void edge_labels(const struct edge *e, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = 0;
	label(out, cap, &o, "client", e->client);
	label(out, cap, &o, "server", e->server);
}

void zs_graph_render_prom(struct zs_sbuf *b)
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
	char labels[600];
	size_t i, k;
	struct series *x;
	struct edge *e;

	pthread_mutex_lock(&lock);
	for (k = 0; k < 2; k++) {
		zs_sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", red[k].name, red[k].help,
			     red[k].name);
		for (i = 0; i < HASH_SIZE; i++)
			for (x = series_tab[i]; x; x = x->next)
				if (x->kind == red[k].kind)
					render_hist(b, red[k].name, x->key, &x->h);
	}
	zs_sb_printf(b, "# HELP traces_service_graph_request_total Requests between two services\n"
			"# TYPE traces_service_graph_request_total counter\n");
	for (i = 0; i < HASH_SIZE; i++)
		for (e = edge_tab[i]; e; e = e->next) {
			edge_labels(e, labels, sizeof(labels));
			zs_sb_printf(b, "traces_service_graph_request_total{%s} %llu\n", labels,
				     (unsigned long long)e->total);
		}
	zs_sb_printf(b, "# HELP traces_service_graph_request_failed_total Failed requests between "
			"two services\n# TYPE traces_service_graph_request_failed_total counter\n");
	for (i = 0; i < HASH_SIZE; i++)
		for (e = edge_tab[i]; e; e = e->next) {
			edge_labels(e, labels, sizeof(labels));
			zs_sb_printf(b, "traces_service_graph_request_failed_total{%s} %llu\n",
				     labels, (unsigned long long)e->failed);
		}
	for (k = 0; k < 2; k++) {
		const char *name = k ? "traces_service_graph_request_client_seconds"
				     : "traces_service_graph_request_server_seconds";

		zs_sb_printf(b, "# HELP %s Request duration seen by the %s\n# TYPE %s histogram\n",
			     name, k ? "client" : "server", name);
		for (i = 0; i < HASH_SIZE; i++)
			for (e = edge_tab[i]; e; e = e->next) {
				edge_labels(e, labels, sizeof(labels));
				render_hist(b, name, labels, k ? &e->client_s : &e->server_s);
			}
	}
	pthread_mutex_unlock(&lock);
}

/* The q-quantile of h (0 if empty), interpolated inside its bucket. */
static double hist_quantile(const struct hist *h, double q)
{
	double want = q * (double)h->count, cum = 0, lo = 0;
	size_t i;

	if (!h->count)
		return 0;
	for (i = 0; i < N_BOUNDS; i++) {
		if (cum + (double)h->buckets[i] >= want && h->buckets[i])
			return lo + (bounds[i] - lo) * (want - cum) / (double)h->buckets[i];
		cum += (double)h->buckets[i];
		lo = bounds[i];
	}
	return bounds[N_BOUNDS - 1];
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
	struct service *r;
	struct edge *e;
	int first = 1;
	size_t i;

	pthread_mutex_lock(&lock);
	zs_sb_printf(b, "{\"time_unix_nano\":%llu,\"nodes\":[", (unsigned long long)now_unix_ns);
	for (i = 0; i < HASH_SIZE; i++)
		for (r = route_tab[i]; r; r = r->next) {
			node_known(r->service, &seen);
			zs_sb_printf(b, "%s{\"id\":", first ? "" : ",");
			json_str(b, r->service);
			zs_sb_printf(b, ",\"traced\":true,\"pid\":%u,\"exe\":", r->pid);
			json_str(b, r->exe);
			zs_sb_printf(b,
				     ",\"requests\":%llu,\"errors\":%llu,\"p50_seconds\":%.6f,"
				     "\"p95_seconds\":%.6f,\"routes\":%u}",
				     (unsigned long long)r->served.count,
				     (unsigned long long)r->errors, hist_quantile(&r->served, 0.5),
				     hist_quantile(&r->served, 0.95), r->n);
			first = 0;
		}
	/* the other ends: callers we do not trace ("user"), servers elsewhere */
	for (i = 0; i < HASH_SIZE; i++)
		for (e = edge_tab[i]; e; e = e->next) {
			if (!node_known(e->client, &seen))
				json_virtual_node(b, e->client, &first);
			if (!node_known(e->server, &seen))
				json_virtual_node(b, e->server, &first);
		}
	zs_sb_printf(b, "],\"edges\":[");
	first = 1;
	for (i = 0; i < HASH_SIZE; i++)
		for (e = edge_tab[i]; e; e = e->next) {
			zs_sb_printf(b, "%s{\"client\":", first ? "" : ",");
			json_str(b, e->client);
			zs_sb_printf(b, ",\"server\":");
			json_str(b, e->server);
			zs_sb_printf(
				b,
				",\"requests\":%llu,\"failed\":%llu,\"client_p95_seconds\":%.6f,"
				"\"server_p95_seconds\":%.6f}",
				(unsigned long long)e->total, (unsigned long long)e->failed,
				hist_quantile(&e->client_s, 0.95),
				hist_quantile(&e->server_s, 0.95));
			first = 0;
		}
	zs_sb_printf(b, "]}\n");
	pthread_mutex_unlock(&lock);
	free(seen.p);
}

void zs_graph_render_dot(struct zs_sbuf *b)
{
	struct service *r;
	struct edge *e;
	size_t i;

	pthread_mutex_lock(&lock);
	zs_sb_printf(b, "digraph zerospan {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
	for (i = 0; i < HASH_SIZE; i++)
		for (r = route_tab[i]; r; r = r->next) {
			zs_sb_printf(b, "  \"");
			zs_sb_escaped(b, r->service);
			zs_sb_printf(b, "\" [label=\"");
			zs_sb_escaped(b, r->service);
			zs_sb_printf(b, "\\n%llu req, %llu err\"];\n",
				     (unsigned long long)r->served.count,
				     (unsigned long long)r->errors);
		}
	for (i = 0; i < HASH_SIZE; i++)
		for (e = edge_tab[i]; e; e = e->next) {
			zs_sb_printf(b, "  \"");
			zs_sb_escaped(b, e->client);
			zs_sb_printf(b, "\" -> \"");
			zs_sb_escaped(b, e->server);
			zs_sb_printf(b, "\" [label=\"%llu req, %llu failed, p95 %.1f ms\"];\n",
				     (unsigned long long)e->total, (unsigned long long)e->failed,
				     1000 * hist_quantile(e->client_s.count ? &e->client_s
									    : &e->server_s,
							  0.95));
		}
	zs_sb_printf(b, "}\n");
	pthread_mutex_unlock(&lock);
}
