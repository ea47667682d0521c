// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otlp_metrics.h"

#include "graph_tables.h"
#include "otlp.h"
#include "otlp_build.h"
#include "span.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RES 256 /* services per request; more go to the next export */

struct res_metrics {
	const char *service;
	Zs__Otlp__ResourceMetrics *rm;
	Zs__Otlp__Metric *m[2]; /* server, client durations */
	size_t cap[2];
};

static Zs__Otlp__Metric *new_metric(struct zs_arena *a, const char *name, const char *desc,
				    const char *unit, int hist, size_t cap)
{
	Zs__Otlp__Metric *m = zs_arena_alloc(a, sizeof(*m));

	if (!m)
		return NULL;
	zs__otlp__metric__init(m);
	m->name = (char *)name;
	m->description = (char *)desc;
	m->unit = (char *)unit;
	if (hist) {
		Zs__Otlp__Histogram *h = zs_arena_alloc(a, sizeof(*h));

		if (!h)
			return NULL;
		zs__otlp__histogram__init(h);
		h->aggregation_temporality =
			ZS__OTLP__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
		h->data_points = zs_arena_alloc(a, cap * sizeof(*h->data_points));
		m->data_case = ZS__OTLP__METRIC__DATA_HISTOGRAM;
		m->histogram = h;
		return h->data_points ? m : NULL;
	} else {
		Zs__Otlp__Sum *s = zs_arena_alloc(a, sizeof(*s));

		if (!s)
			return NULL;
		zs__otlp__sum__init(s);
		s->aggregation_temporality =
			ZS__OTLP__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
		s->is_monotonic = 1;
		s->data_points = zs_arena_alloc(a, cap * sizeof(*s->data_points));
		m->data_case = ZS__OTLP__METRIC__DATA_SUM;
		m->sum = s;
		return s->data_points ? m : NULL;
	}
}

static Zs__Otlp__HistogramDataPoint *hist_point(struct zs_arena *a, const struct zs_hist *h,
						uint64_t start, uint64_t now)
{
	Zs__Otlp__HistogramDataPoint *p = zs_arena_alloc(a, sizeof(*p));
	size_t i, n_ex = 0;

	if (!p)
		return NULL;
	zs__otlp__histogram_data_point__init(p);
	p->start_time_unix_nano = start;
	p->time_unix_nano = now;
	p->count = h->count;
	p->sum = h->sum;
	p->n_bucket_counts = ZS_GRAPH_BOUNDS + 1;
	p->bucket_counts = (uint64_t *)h->buckets; /* not copied: encoded under the lock */
	p->n_explicit_bounds = ZS_GRAPH_BOUNDS;
	p->explicit_bounds = (double *)zs_graph_bounds;
	p->exemplars = zs_arena_alloc(a, (ZS_GRAPH_BOUNDS + 1) * sizeof(*p->exemplars));
	for (i = 0; p->exemplars && i <= ZS_GRAPH_BOUNDS; i++) {
		const struct zs_exemplar *x = &h->ex[i];
		Zs__Otlp__Exemplar *e;

		if (!x->unix_ns || !(e = zs_arena_alloc(a, sizeof(*e))))
			continue;
		zs__otlp__exemplar__init(e);
		e->time_unix_nano = x->unix_ns;
		e->value_case = ZS__OTLP__EXEMPLAR__VALUE_AS_DOUBLE;
		e->as_double = x->value;
		e->trace_id = (ProtobufCBinaryData){ 16, (uint8_t *)x->trace_id };
		e->span_id = (ProtobufCBinaryData){ 8, (uint8_t *)x->span_id };
		p->exemplars[n_ex++] = e;
	}
	p->n_exemplars = n_ex;
	return p;
}

static void red_attrs(struct zs_arena *a, const struct zs_red_labels *l,
		      Zs__Otlp__HistogramDataPoint *p)
{
	struct zs_kvs kv;

	if (zs_kvs_init(a, &kv, 8))
		return;
	zs_kv_str(a, &kv, "http.request.method", l->method);
	if (l->status)
		zs_kv_int(a, &kv, "http.response.status_code", l->status);
	if (l->error_type[0])
		zs_kv_str(a, &kv, "error.type", l->error_type);
	zs_kv_str(a, &kv, "url.scheme", l->scheme);
	if (l->kind == ZS_KIND_SERVER) {
		zs_kv_str(a, &kv, "http.route", l->route);
	} else {
		zs_kv_str(a, &kv, "server.address", l->server_address);
		zs_kv_int(a, &kv, "server.port", l->server_port);
	}
	p->attributes = kv.v;
	p->n_attributes = kv.n;
}

static void edge_attrs(struct zs_arena *a, const struct zs_edge *e, Zs__Otlp__KeyValue ***v,
		       size_t *n)
{
	struct zs_kvs kv;

	if (zs_kvs_init(a, &kv, 2))
		return;
	zs_kv_str(a, &kv, "client", e->client);
	zs_kv_str(a, &kv, "server", e->server);
	*v = kv.v;
	*n = kv.n;
}

static Zs__Otlp__ResourceMetrics *new_rm(struct zs_arena *a, const char *service,
					 const struct zs_kv *extra, int n_extra, size_t n_metrics)
{
	Zs__Otlp__ResourceMetrics *rm = zs_arena_alloc(a, sizeof(*rm));
	Zs__Otlp__ScopeMetrics *sm = zs_arena_alloc(a, sizeof(*sm));
	Zs__Otlp__InstrumentationScope *sc = zs_arena_alloc(a, sizeof(*sc));
	struct zs_resource *r = zs_arena_alloc(a, sizeof(*r));

	if (!rm || !sm || !sc || !r)
		return NULL;
	zs__otlp__resource_metrics__init(rm);
	zs__otlp__scope_metrics__init(sm);
	zs__otlp__instrumentation_scope__init(sc);
	snprintf(r->service_name, sizeof(r->service_name), "%s", service);
	/* a service's processes may come and go: the resource is the service */
	rm->resource = zs_otlp_resource(a, r, extra, n_extra, false);
	sc->name = "zerospan";
	sc->version = ZS_VERSION;
	sm->scope = sc;
	sm->metrics = zs_arena_alloc(a, n_metrics * sizeof(*sm->metrics));
	rm->scope_metrics = zs_arena_alloc(a, sizeof(*rm->scope_metrics));
	if (!sm->metrics || !rm->scope_metrics)
		return NULL;
	rm->scope_metrics[0] = sm;
	rm->n_scope_metrics = 1;
	return rm;
}

int zs_otlp_encode_metrics(const struct zs_kv *extra, int n_extra, uint64_t now, uint8_t **out,
			   size_t *out_len)
{
	static const char *const names[2] = { "http.server.request.duration",
					      "http.client.request.duration" };
	static const char *const descs[2] = { "Duration of HTTP server requests.",
					      "Duration of HTTP client requests." };
	Zs__Otlp__ExportMetricsServiceRequest req = ZS__OTLP__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	struct res_metrics *res = calloc(MAX_RES, sizeof(*res));
	struct zs_arena a = { 0 };
	const struct zs_graph_tables *t;
	const struct zs_series *x;
	const struct zs_edge *e;
	size_t n_res = 0, i, k, n_edges = 0;
	int rc = -ENOMEM;

	*out = NULL;
	*out_len = 0;
	if (!res)
		return -ENOMEM;
	t = zs_graph_lock();
	/* services, and their series count per kind */
	for (i = 0; i < ZS_GRAPH_HASH; i++)
		for (x = t->series[i]; x; x = x->next) {
			for (k = 0; k < n_res && strcmp(res[k].service, x->l.service); k++)
				;
			if (k == n_res) {
				if (n_res == MAX_RES)
					continue;
				res[n_res++].service = x->l.service;
			}
			res[k].cap[x->l.kind == ZS_KIND_CLIENT]++;
		}
	for (i = 0; i < ZS_GRAPH_HASH; i++)
		for (e = t->edges[i]; e; e = e->next)
			n_edges++;
	req.resource_metrics = zs_arena_alloc(&a, (n_res + 1) * sizeof(*req.resource_metrics));
	if (!req.resource_metrics)
		goto out;
	for (k = 0; k < n_res; k++) {
		Zs__Otlp__ScopeMetrics *sm;

		res[k].rm = new_rm(&a, res[k].service, extra, n_extra, 2);
		if (!res[k].rm)
			goto out;
		sm = res[k].rm->scope_metrics[0];
		for (i = 0; i < 2; i++) {
			if (!res[k].cap[i])
				continue;
			res[k].m[i] = new_metric(&a, names[i], descs[i], "s", 1, res[k].cap[i]);
			if (!res[k].m[i])
				goto out;
			sm->metrics[sm->n_metrics++] = res[k].m[i];
		}
		req.resource_metrics[req.n_resource_metrics++] = res[k].rm;
	}
	for (i = 0; i < ZS_GRAPH_HASH; i++)
		for (x = t->series[i]; x; x = x->next) {
			Zs__Otlp__HistogramDataPoint *p;
			Zs__Otlp__Histogram *h;

			for (k = 0; k < n_res && strcmp(res[k].service, x->l.service); k++)
				;
			if (k == n_res)
				continue;
			h = res[k].m[x->l.kind == ZS_KIND_CLIENT]->histogram;
			p = hist_point(&a, &x->h, t->start_unix_ns, now);
			if (!p)
				goto out;
			red_attrs(&a, &x->l, p);
			h->data_points[h->n_data_points++] = p;
		}
	if (n_edges) {
		static const char *const gnames[4] = {
			"traces_service_graph_request_total",
			"traces_service_graph_request_failed_total",
			"traces_service_graph_request_server_seconds",
			"traces_service_graph_request_client_seconds",
		};
		Zs__Otlp__ResourceMetrics *rm = new_rm(&a, "zerospan", extra, n_extra, 4);
		Zs__Otlp__Metric *gm[4];

		if (!rm)
			goto out;
		for (k = 0; k < 4; k++) {
			gm[k] = new_metric(&a, gnames[k], "service graph (Grafana Tempo's names)",
					   k < 2 ? "1" : "s", k >= 2, n_edges);
			if (!gm[k])
				goto out;
			rm->scope_metrics[0]->metrics[rm->scope_metrics[0]->n_metrics++] = gm[k];
		}
		for (i = 0; i < ZS_GRAPH_HASH; i++)
			for (e = t->edges[i]; e; e = e->next) {
				for (k = 0; k < 2; k++) {
					Zs__Otlp__NumberDataPoint *p =
						zs_arena_alloc(&a, sizeof(*p));

					if (!p)
						goto out;
					zs__otlp__number_data_point__init(p);
					p->start_time_unix_nano = t->start_unix_ns;
					p->time_unix_nano = now;
					p->value_case = ZS__OTLP__NUMBER_DATA_POINT__VALUE_AS_INT;
					p->as_int = (int64_t)(k ? e->failed : e->total);
					edge_attrs(&a, e, &p->attributes, &p->n_attributes);
					gm[k]->sum->data_points[gm[k]->sum->n_data_points++] = p;
				}
				for (k = 2; k < 4; k++) {
					Zs__Otlp__HistogramDataPoint *p =
						hist_point(&a, k == 2 ? &e->server_s : &e->client_s,
							   t->start_unix_ns, now);

					if (!p)
						goto out;
					edge_attrs(&a, e, &p->attributes, &p->n_attributes);
					gm[k]->histogram
						->data_points[gm[k]->histogram->n_data_points++] =
						p;
				}
			}
		req.resource_metrics[req.n_resource_metrics++] = rm;
	}
	if (a.failed)
		goto out;
	rc = 0;
	if (req.n_resource_metrics) {
		*out_len = zs__otlp__export_metrics_service_request__get_packed_size(&req);
		*out = malloc(*out_len ? *out_len : 1);
		if (!*out) {
			*out_len = 0;
			rc = -ENOMEM;
		} else {
			zs__otlp__export_metrics_service_request__pack(&req, *out);
		}
	}
out:
	zs_graph_unlock();
	zs_arena_free(&a);
	free(res);
	return rc;
}
