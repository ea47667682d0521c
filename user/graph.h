/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * RED metrics and the service graph, from every span (sampled or not):
 * http.server/client.request.duration histograms per service, method,
 * route, status; and per edge (client service, server service) the
 * request and failure counts and latency histograms, named as Grafana
 * Tempo's service graphs name them. Every label set is bounded: routes per
 * service (overflow into one route), series and edges (beyond: counted and
 * not recorded). Fed on the event loop, rendered from the admin thread.
 */
#ifndef ZS_GRAPH_H
#define ZS_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "sbuf.h"
#include "span.h"

#define ZS_ROUTE_OVERFLOW "/{overflow}"

struct zs_graph_opts {
	uint32_t max_routes; /* distinct routes per service */
	uint32_t max_series; /* RED series (both kinds) */
	uint32_t max_edges;
};

int zs_graph_init(const struct zs_graph_opts *o);
void zs_graph_fini(void);

/* Records s. A SERVER span whose route is one too many for its service gets
 * ZS_ROUTE_OVERFLOW as route (and name). */
void zs_graph_observe(struct zs_span *s);

/* The graph as JSON: nodes (services: process, requests served, errors,
 * p50/p95; and the untraced ends of edges) and edges (requests, failed,
 * p95 as each side saw it). Counts are totals since start. */
void zs_graph_render_json(struct zs_sbuf *b, uint64_t now_unix_ns);
/* The graph in Graphviz DOT. */
void zs_graph_render_dot(struct zs_sbuf *b);

/* Appends the metrics in Prometheus text format, or OpenMetrics (om: counter
 * families without _total, bucket exemplars with trace and span ids). */
void zs_graph_render_prom(struct zs_sbuf *b, bool om);

/* The name of the service at the other end of s: its peer_service, else
 * for CLIENT spans the server address (and port), for SERVER spans "user"
 * (a caller zerospan does not trace, as Tempo names it). */
void zs_graph_peer_name(const struct zs_span *s, char *out, size_t cap);

#endif
