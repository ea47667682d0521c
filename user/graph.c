// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "graph.h"

#include "clock.h"
#include "graph_tables.h"
#include "metrics.h"
#include "route.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double zs_graph_bounds[ZS_GRAPH_BOUNDS] = { 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
						  0.5,	 0.75, 1,     2.5,  5,	   7.5, 10 };

static struct zs_graph_opts opts;
static struct zs_graph_tables tabs;
static uint32_t n_series, n_edges, n_services;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* A word-at-a-time hash (multiply and fold per 8 bytes): four strings are
 * hashed per span, and a byte loop showed in the agent's profile. Table
 * indexes and route identities only; nothing outside this file sees them. */
#define HASH_K 0x9e3779b97f4a7c15ULL

/* The last n < 8 bytes as one word, read without a byte-by-byte copy (a
 * store-forwarding stall when the word is then loaded). */
static inline uint64_t hash_tail(const unsigned char *s, size_t n)
{
	uint32_t a, b;

	if (n >= 4) {
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		return (uint64_t)a << 32 | b;
	}
	if (n)
		return (uint64_t)s[0] << 16 | (uint64_t)s[n >> 1] << 8 | s[n - 1];
	return 0;
}

static inline uint64_t hash_mem(const void *p, size_t n, uint64_t h)
{
	const unsigned char *s = p;
	uint64_t w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * HASH_K;
		h ^= h >> 29;
	}
	h = (h ^ hash_tail(s, n) ^ (uint64_t)n << 59) * HASH_K; /* "ab" and "ab\0" differ */
	return h ^ h >> 32;
}

static uint64_t hash_str(const char *s, uint64_t h)
{
	return hash_mem(s, strlen(s), h);
}

#define HASH0 0xcbf29ce484222325ULL

int zs_graph_init(const struct zs_graph_opts *o)
{
	opts = *o;
	tabs.start_unix_ns = zs_now_ns(CLOCK_REALTIME);
	return 0;
}

void zs_graph_fini(void)
{
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < ZS_GRAPH_HASH; i++) {
		while (tabs.series[i]) {
			struct zs_series *n = tabs.series[i]->next;

			free(tabs.series[i]);
			tabs.series[i] = n;
		}
		while (tabs.edges[i]) {
			struct zs_edge *n = tabs.edges[i]->next;

			free(tabs.edges[i]);
			tabs.edges[i] = n;
		}
		while (tabs.services[i]) {
			struct zs_service *n = tabs.services[i]->next;

			free(tabs.services[i]->hashes);
			free(tabs.services[i]);
			tabs.services[i] = n;
		}
	}
	n_series = n_edges = n_services = 0;
	pthread_mutex_unlock(&lock);
}

const struct zs_graph_tables *zs_graph_lock(void)
{
	pthread_mutex_lock(&lock);
	return &tabs;
}

void zs_graph_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

/* host, then ":port" when port is set, truncated to fit cap (> 0); no
 * snprintf on the per-span path. */
static void host_port(char *out, size_t cap, const char *host, unsigned int port)
{
	char p[8];
	size_t n = strlen(host), k = sizeof(p);

	zs_strncpy_trunc(out, cap, host, n);
	if (!port)
		return;
	do {
		p[--k] = (char)('0' + port % 10);
		port /= 10;
	} while (port);
	p[--k] = ':';
	if (n + sizeof(p) - k < cap) {
		memcpy(out + n, p + k, sizeof(p) - k);
		out[n + sizeof(p) - k] = 0;
	}
}

void zs_graph_peer_name(const struct zs_span *s, char *out, size_t cap)
{
	if (s->peer_service[0])
		zs_strlcpy(out, s->peer_service, cap);
	else if (s->kind == ZS_KIND_SERVER)
		zs_strlcpy(out, "user", cap);
	else if (s->server_address[0])
		host_port(out, cap, s->server_address, s->server_port);
	else
		host_port(out, cap, s->peer_address, s->peer_port);
}

/* The entry of a service, made on first sight; NULL when the table is full. */
static struct zs_service *service_get(const char *name)
{
	uint64_t b = hash_str(name, HASH0) % ZS_GRAPH_HASH;
	struct zs_service *r;

	for (r = tabs.services[b]; r && strcmp(r->name, name); r = r->next)
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
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->next = tabs.services[b];
	tabs.services[b] = r;
	n_services++;
	return r;
}

/* Is route one of the service's first max_routes routes? */
static int route_admitted(struct zs_service *r, const char *route)
{
	uint64_t h = hash_str(route, HASH0);
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

static void hist_add(struct zs_hist *h, double v, const struct zs_span *s)
{
	size_t i = 0;

	while (i < ZS_GRAPH_BOUNDS && v > zs_graph_bounds[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum += v;
	if (s->trace_flags & 1) {
		memcpy(h->ex[i].trace_id, s->trace_id, 16);
		memcpy(h->ex[i].span_id, s->span_id, 8);
		h->ex[i].value = v;
		h->ex[i].unix_ns = s->end_ns;
	}
}

double zs_hist_quantile(const struct zs_hist *h, double q)
{
	double want = q * (double)h->count, cum = 0, lo = 0;
	size_t i;

	if (!h->count)
		return 0;
	for (i = 0; i < ZS_GRAPH_BOUNDS; i++) {
		if (h->buckets[i] && cum + (double)h->buckets[i] >= want)
			return lo +
			       (zs_graph_bounds[i] - lo) * (want - cum) / (double)h->buckets[i];
		cum += (double)h->buckets[i];
		lo = zs_graph_bounds[i];
	}
	return zs_graph_bounds[ZS_GRAPH_BOUNDS - 1];
}

/* The labels of s's RED series, and their hash (over the strings' bytes
 * only: the struct is mostly padding). */
static uint64_t red_labels(const struct zs_span *s, const char *service, struct zs_red_labels *l)
{
	uint64_t h;

	memset(l, 0, sizeof(*l));
	l->kind = s->kind;
	l->status = s->status;
	zs_strlcpy(l->service, service, sizeof(l->service));
	zs_strlcpy(l->method, s->method, sizeof(l->method));
	zs_strlcpy(l->scheme, s->scheme, sizeof(l->scheme));
	if (!s->status)
		zs_strlcpy(l->error_type, s->error_type, sizeof(l->error_type));
	if (s->kind == ZS_KIND_SERVER) {
		zs_strlcpy(l->route, s->route, sizeof(l->route));
	} else {
		zs_strlcpy(l->server_address,
			   s->server_address[0] ? s->server_address : s->peer_address,
			   sizeof(l->server_address));
		l->server_port = s->server_port ? s->server_port : s->peer_port;
	}
	h = HASH0 ^
	    ((uint64_t)l->kind << 48 | (uint64_t)(uint32_t)l->status << 16 | l->server_port);
	h = hash_str(l->service, h);
	h = hash_str(l->route, h);
	h = hash_str(l->server_address, h);
	return hash_str(l->method, h);
}

static struct zs_series *series_get(const struct zs_red_labels *l, uint64_t hash)
{
	uint64_t b = hash % ZS_GRAPH_HASH;
	struct zs_series *x;

	for (x = tabs.series[b]; x; x = x->next)
		if (x->hash == hash && memcmp(&x->l, l, sizeof(*l)) == 0)
			return x;
	if (n_series >= opts.max_series)
		return NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->hash = hash;
	x->l = *l;
	x->next = tabs.series[b];
	tabs.series[b] = x;
	n_series++;
	return x;
}

static struct zs_edge *edge_get(const char *client, const char *server)
{
	uint64_t b = hash_str(server, hash_str(client, HASH0) ^ 0x2f) % ZS_GRAPH_HASH;
	struct zs_edge *e;

	for (e = tabs.edges[b]; e; e = e->next)
		if (strcmp(e->client, client) == 0 && strcmp(e->server, server) == 0)
			return e;
	if (n_edges >= opts.max_edges)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->client, sizeof(e->client), "%s", client);
	snprintf(e->server, sizeof(e->server), "%s", server);
	e->next = tabs.edges[b];
	tabs.edges[b] = e;
	n_edges++;
	return e;
}

void zs_graph_observe(struct zs_span *s)
{
	const char *service = s->res ? s->res->service_name : "unknown";
	double secs = s->end_ns > s->start_ns ? (double)(s->end_ns - s->start_ns) / 1e9 : 0;
	struct zs_red_labels l;
	uint64_t hash;
	struct zs_service *svc;
	struct zs_series *x;
	struct zs_edge *e;
	char peer[160];

	zs_graph_peer_name(s, peer, sizeof(peer));
	pthread_mutex_lock(&lock);
	svc = service_get(service);
	if (svc && s->res && (svc->res_seen != s->res || svc->pid != s->res->pid)) {
		/* once per process behind the service, not per span */
		svc->res_seen = s->res;
		svc->pid = s->res->pid;
		zs_strlcpy(svc->exe, s->res->exe_name, sizeof(svc->exe));
		zs_strlcpy(svc->container_id, s->res->container.id, sizeof(svc->container_id));
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
	hash = red_labels(s, service, &l);
	x = series_get(&l, hash);
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
