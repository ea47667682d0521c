/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tables behind graph.h, for its renderers (graph_render.c: Prometheus,
 * JSON, DOT; otlp_metrics.c: OTLP). Read them only between
 * zs_graph_lock() and zs_graph_unlock().
 */
#ifndef ZS_GRAPH_TABLES_H
#define ZS_GRAPH_TABLES_H

#include <stdint.h>

#include "route.h"

/* Seconds: the semantic conventions' http.*.request.duration advice. */
#define ZS_GRAPH_BOUNDS 14
extern const double zs_graph_bounds[ZS_GRAPH_BOUNDS];
#define ZS_GRAPH_HASH 4096

struct zs_exemplar {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	double value;
	uint64_t unix_ns; /* 0: none */
};

struct zs_hist {
	uint64_t buckets[ZS_GRAPH_BOUNDS + 1]; /* last: +Inf */
	uint64_t count;
	double sum;
	struct zs_exemplar ex[ZS_GRAPH_BOUNDS + 1]; /* latest sampled span per bucket */
};

/* The attributes of a RED series (zeroed first: compared as bytes). */
struct zs_red_labels {
	uint8_t kind; /* enum zs_span_kind */
	uint16_t server_port;
	int status; /* 0: no response */
	char service[128];
	char method[16];
	char route[ZS_ROUTE_MAX]; /* SERVER */
	char server_address[128]; /* CLIENT */
	char error_type[32];	  /* when there was no response */
	char scheme[8];
};

struct zs_series {
	uint64_t hash; /* of l: compared before the labels */
	struct zs_red_labels l;
	struct zs_hist h;
	struct zs_series *next;
};

struct zs_edge {
	char client[128], server[128];
	uint64_t total, failed;
	struct zs_hist server_s, client_s;
	struct zs_edge *next;
};

/* A service: the routes it served (as hashes), its process, what it served. */
struct zs_service {
	char name[128];
	char exe[64];
	char container_id[65]; /* of the latest process seen, "" if none */
	uint32_t pid;	       /* the latest process seen */
	const void *res_seen;  /* its resource, when exe and container were copied */
	uint32_t n;	       /* routes */
	uint64_t *hashes;      /* max_routes */
	uint64_t errors;       /* SERVER spans in error */
	struct zs_hist served;
	struct zs_service *next;
};

struct zs_graph_tables {
	struct zs_series *series[ZS_GRAPH_HASH];
	struct zs_edge *edges[ZS_GRAPH_HASH];
	struct zs_service *services[ZS_GRAPH_HASH];
	uint64_t start_unix_ns; /* when counting began (cumulative start time) */
};

/* Locks the tables and returns them. */
const struct zs_graph_tables *zs_graph_lock(void);
void zs_graph_unlock(void);

/* The q-quantile of h (0 if empty), interpolated inside its bucket. */
double zs_hist_quantile(const struct zs_hist *h, double q);

#endif
