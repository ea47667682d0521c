// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "traces.h"

#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOW_KEPT (ZS_TRACES_MAX / 4) /* this many slowest traces are not evicted */

struct tspan {
	uint8_t span_id[8], parent[8];
	bool has_parent, error;
	uint8_t kind;
	int status;
	uint64_t start_ns, end_ns;
	char name[64];
	char service[64];
};

struct trace {
	uint8_t trace_id[16];
	uint64_t seq; /* admission order */
	uint64_t start_ns, end_ns;
	bool error;
	bool slow; /* among the SLOW_KEPT slowest at the last ranking */
	uint32_t n;
	struct tspan spans[ZS_TRACE_SPANS_MAX];
};

static struct trace *tab;
static uint32_t n_traces;
/* chains of tab indices by trace id, -1 ends a chain */
#define BUCKETS 256
static int16_t head[BUCKETS], next_in[ZS_TRACES_MAX];
/* tab[i].trace_id again, packed: a lookup per span reads these (3 KiB)
 * instead of one line of each ~10 KiB trace it passes */
static uint8_t ids[ZS_TRACES_MAX][16];
static uint64_t seq, window_start, admitted, admitted_errors, slow_at;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t bucket_of(const uint8_t id[16])
{
	return (uint32_t)(id[15] ^ id[7]) % BUCKETS;
}

static struct trace *find(const uint8_t id[16])
{
	int16_t i;

	for (i = head[bucket_of(id)]; i >= 0; i = next_in[i])
		if (memcmp(ids[i], id, 16) == 0)
			return &tab[i];
	return NULL;
}

static void unlink_trace(int16_t idx)
{
	int16_t *p = &head[bucket_of(tab[idx].trace_id)];

	while (*p >= 0 && *p != idx)
		p = &next_in[*p];
	if (*p == idx)
		*p = next_in[idx];
}

static void link_trace(int16_t idx)
{
	uint32_t b = bucket_of(tab[idx].trace_id);

	memcpy(ids[idx], tab[idx].trace_id, 16);
	next_in[idx] = head[b];
	head[b] = idx;
}

static int cmp_duration_desc(const void *a, const void *b)
{
	const struct trace *x = *(const struct trace *const *)a,
			   *y = *(const struct trace *const *)b;
	uint64_t dx = x->end_ns - x->start_ns, dy = y->end_ns - y->start_ns;

	return dx < dy ? 1 : dx > dy ? -1 : 0;
}

/* Marks the SLOW_KEPT slowest traces: those are evicted last. */
static void rank_slow(void)
{
	struct trace *order[ZS_TRACES_MAX] = { 0 };
	uint32_t i;

	for (i = 0; i < n_traces; i++) {
		order[i] = &tab[i];
		tab[i].slow = false;
	}
	qsort(order, n_traces, sizeof(order[0]), cmp_duration_desc);
	for (i = 0; i < n_traces && i < SLOW_KEPT; i++)
		order[i]->slow = true;
}

static struct trace *victim(void)
{
	struct trace *v = NULL, *oldest = &tab[0];
	uint32_t i;

	for (i = 0; i < n_traces; i++) {
		struct trace *t = &tab[i];

		if (t->seq < oldest->seq)
			oldest = t;
		if (t->error || t->slow)
			continue;
		if (!v || t->seq < v->seq)
			v = t;
	}
	return v ? v : oldest;
}

void zs_traces_add(const struct zs_span *s, uint64_t now)
{
	struct trace *t;
	struct tspan *x;

	pthread_mutex_lock(&lock);
	if (!tab) {
		tab = calloc(ZS_TRACES_MAX, sizeof(*tab));
		if (!tab) {
			pthread_mutex_unlock(&lock);
			return;
		}
		memset(head, 0xff, sizeof(head));
	}
	t = find(s->trace_id);
	if (!t) {
		if (now - window_start >= 1000000000ULL) {
			window_start = now;
			admitted = admitted_errors = 0;
		}
		if (s->error ? admitted_errors >= ZS_TRACES_PER_SECOND
			     : admitted >= ZS_TRACES_PER_SECOND) {
			zs_count(view_traces_skipped);
			pthread_mutex_unlock(&lock);
			return;
		}
		if (s->error)
			admitted_errors++;
		else
			admitted++;
		if (n_traces < ZS_TRACES_MAX) {
			t = &tab[n_traces++];
		} else {
			if (now - slow_at >= 1000000000ULL) {
				slow_at = now;
				rank_slow();
			}
			t = victim();
			unlink_trace((int16_t)(t - tab));
		}
		memset(t, 0, sizeof(*t));
		memcpy(t->trace_id, s->trace_id, 16);
		link_trace((int16_t)(t - tab));
		t->seq = ++seq;
		t->start_ns = s->start_ns;
		t->end_ns = s->end_ns;
	}
	if (t->n >= ZS_TRACE_SPANS_MAX) {
		zs_count(view_spans_skipped);
		pthread_mutex_unlock(&lock);
		return;
	}
	x = &t->spans[t->n++];
	memcpy(x->span_id, s->span_id, 8);
	memcpy(x->parent, s->parent_span_id, 8);
	x->has_parent = s->has_parent;
	x->error = s->error;
	x->kind = s->kind;
	x->status = s->status;
	x->start_ns = s->start_ns;
	x->end_ns = s->end_ns;
	zs_strlcpy(x->name, s->name, sizeof(x->name));
	zs_strlcpy(x->service, s->res ? s->res->service_name : "unknown", sizeof(x->service));
	if (s->start_ns < t->start_ns)
		t->start_ns = s->start_ns;
	if (s->end_ns > t->end_ns)
		t->end_ns = s->end_ns;
	t->error |= s->error;
	pthread_mutex_unlock(&lock);
}

static int cmp_seq_desc(const void *a, const void *b)
{
	const struct trace *x = *(const struct trace *const *)a,
			   *y = *(const struct trace *const *)b;

	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

void zs_traces_render_json(struct zs_sbuf *b)
{
	const struct trace *order[ZS_TRACES_MAX] = { 0 };
	uint32_t i, k;

	pthread_mutex_lock(&lock);
	for (i = 0; i < n_traces; i++)
		order[i] = &tab[i];
	qsort(order, n_traces, sizeof(order[0]), cmp_seq_desc);
	zs_sb_printf(b, "{\"traces\":[");
	for (i = 0; i < n_traces; i++) {
		const struct trace *t = order[i];

		zs_sb_printf(b, "%s{\"trace_id\":\"", i ? "," : "");
		zs_sb_hex(b, t->trace_id, 16);
		zs_sb_printf(b,
			     "\",\"start_unix_nano\":%llu,\"duration_ms\":%.3f,\"error\":%s,"
			     "\"spans\":[",
			     (unsigned long long)t->start_ns,
			     (double)(t->end_ns - t->start_ns) / 1e6, t->error ? "true" : "false");
		for (k = 0; k < t->n; k++) {
			const struct tspan *x = &t->spans[k];

			zs_sb_printf(b, "%s{\"span_id\":\"", k ? "," : "");
			zs_sb_hex(b, x->span_id, 8);
			zs_sb_printf(b, "\",\"parent_span_id\":\"");
			if (x->has_parent)
				zs_sb_hex(b, x->parent, 8);
			zs_sb_printf(b, "\",\"kind\":\"%s\",\"name\":\"",
				     x->kind == ZS_KIND_SERVER ? "SERVER" : "CLIENT");
			zs_sb_escaped(b, x->name);
			zs_sb_printf(b, "\",\"service\":\"");
			zs_sb_escaped(b, x->service);
			zs_sb_printf(b,
				     "\",\"start_unix_nano\":%llu,\"end_unix_nano\":%llu,"
				     "\"status_code\":%d,\"error\":%s}",
				     (unsigned long long)x->start_ns, (unsigned long long)x->end_ns,
				     x->status, x->error ? "true" : "false");
		}
		zs_sb_printf(b, "]}");
	}
	zs_sb_printf(b, "]}\n");
	pthread_mutex_unlock(&lock);
}

void zs_traces_clear(void)
{
	pthread_mutex_lock(&lock);
	free(tab);
	tab = NULL;
	n_traces = 0;
	seq = admitted = admitted_errors = window_start = slow_at = 0;
	pthread_mutex_unlock(&lock);
}
