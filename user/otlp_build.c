// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otlp_build.h"

#include "otlp.h"

#include <stdlib.h>
#include <string.h>

void *zs_arena_alloc(struct zs_arena *a, size_t n)
{
	struct block *b = a->head;

	n = (n + 15) & ~(size_t)15;
	if (!b || b->used + n > b->cap) {
		size_t cap = n > 65536 ? n : 65536;

		b = malloc(sizeof(*b) + cap);
		if (!b) {
			a->failed = 1;
			return NULL;
		}
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	b->used += n;
	return memset((char *)b->data + b->used - n, 0, n);
}

void zs_arena_free(struct zs_arena *a)
{
	while (a->head) {
		struct block *nx = a->head->next;

		free(a->head);
		a->head = nx;
	}
}

static Zs__Otlp__KeyValue *kv_new(struct zs_arena *a, struct zs_kvs *l, const char *key)
{
	Zs__Otlp__KeyValue *kv;
	Zs__Otlp__AnyValue *av;

	if (l->n == l->cap)
		return NULL;
	kv = zs_arena_alloc(a, sizeof(*kv));
	av = zs_arena_alloc(a, sizeof(*av));
	if (!kv || !av)
		return NULL;
	zs__otlp__key_value__init(kv);
	zs__otlp__any_value__init(av);
	kv->key = (char *)key;
	kv->value = av;
	l->v[l->n++] = kv;
	return kv;
}

void zs_kv_str(struct zs_arena *a, struct zs_kvs *l, const char *key, const char *val)
{
	Zs__Otlp__KeyValue *kv;

	if (!val || !*val)
		return;
	kv = kv_new(a, l, key);
	if (!kv)
		return;
	kv->value->value_case = ZS__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
	kv->value->string_value = (char *)val;
}

void zs_kv_int(struct zs_arena *a, struct zs_kvs *l, const char *key, int64_t val)
{
	Zs__Otlp__KeyValue *kv = kv_new(a, l, key);

	if (!kv)
		return;
	kv->value->value_case = ZS__OTLP__ANY_VALUE__VALUE_INT_VALUE;
	kv->value->int_value = val;
}

int zs_kvs_init(struct zs_arena *a, struct zs_kvs *l, size_t cap)
{
	l->v = zs_arena_alloc(a, cap * sizeof(*l->v));
	l->n = 0;
	l->cap = l->v ? cap : 0;
	return l->v ? 0 : -1;
}

/* k8s.* attributes of a container; owners of the kinds semantic conventions name. */
static void zs_resource_k8s(const struct zs_attr_sink *o, const struct zs_k8s_meta *m)
{
	static const char *const owners[][2] = {
		{ "deployment", "k8s.deployment.name" },
		{ "statefulset", "k8s.statefulset.name" },
		{ "daemonset", "k8s.daemonset.name" },
		{ "cronjob", "k8s.cronjob.name" },
	};
	size_t i;

	o->str(o->ctx, "k8s.pod.name", m->pod_name);
	o->str(o->ctx, "k8s.namespace.name", m->namespace_name);
	o->str(o->ctx, "k8s.container.name", m->container_name);
	o->str(o->ctx, "k8s.node.name", m->node_name);
	o->str(o->ctx, "k8s.replicaset.name", m->replicaset_name);
	o->str(o->ctx, "k8s.job.name", m->job_name);
	for (i = 0; i < sizeof(owners) / sizeof(owners[0]); i++)
		if (strcmp(m->owner_kind, owners[i][0]) == 0)
			o->str(o->ctx, owners[i][1], m->owner_name);
}

/* A sink that passes non-empty attributes on and remembers their keys. */
struct dedup {
	const struct zs_attr_sink *out;
	const char *keys[64 + ZS_RES_EXTRA + ZS_MAX_RES_ATTRS];
	size_t n;
};

static bool dedup_seen(const struct dedup *d, const char *key)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->keys[i], key) == 0)
			return true;
	return false;
}

static void dedup_str(void *ctx, const char *key, const char *val)
{
	struct dedup *d = ctx;

	if (!val || !*val || d->n == sizeof(d->keys) / sizeof(d->keys[0]))
		return;
	d->keys[d->n++] = key;
	d->out->str(d->out->ctx, key, val);
}

static void dedup_int(void *ctx, const char *key, int64_t val)
{
	struct dedup *d = ctx;

	if (d->n == sizeof(d->keys) / sizeof(d->keys[0]))
		return;
	d->keys[d->n++] = key;
	d->out->i64(d->out->ctx, key, val);
}

void zs_resource_attrs(const struct zs_resource *r, const struct zs_kv *extra, int n_extra,
		       bool with_pid, const struct zs_attr_sink *out)
{
	struct dedup d = { .out = out };
	const struct zs_attr_sink o = { dedup_str, dedup_int, &d };
	int i;

	o.str(o.ctx, "service.name", r ? r->service_name : "unknown_service");
	if (r) {
		if (with_pid)
			o.i64(o.ctx, "process.pid", r->pid);
		o.str(o.ctx, "process.executable.name", r->exe_name);
		o.str(o.ctx, "process.executable.path", r->exe_path);
		o.str(o.ctx, "process.command_line", r->cmdline);
		o.str(o.ctx, "container.id", r->container.id);
		o.str(o.ctx, "container.runtime", r->container.runtime);
		/* No semantic convention names a network namespace: ours. */
		if (r->netns)
			o.i64(o.ctx, "zerospan.netns", (int64_t)r->netns);
		o.str(o.ctx, "k8s.pod.uid",
		      r->k8s.pod_uid[0] ? r->k8s.pod_uid : r->container.pod_uid);
		zs_resource_k8s(&o, &r->k8s);
	}
	o.str(o.ctx, "host.name", zs_host_name());
	o.str(o.ctx, "telemetry.sdk.name", "zerospan");
	o.str(o.ctx, "telemetry.sdk.language", "c");
	o.str(o.ctx, "telemetry.sdk.version", ZS_VERSION);
	/* The process's own OTEL_RESOURCE_ATTRIBUTES, then the agent's. */
	for (i = 0; r && i < r->n_extra; i++)
		if (!dedup_seen(&d, r->extra[i].key))
			o.str(o.ctx, r->extra[i].key, r->extra[i].value);
	for (i = 0; i < n_extra; i++)
		if (!dedup_seen(&d, extra[i].key))
			o.str(o.ctx, extra[i].key, extra[i].value);
}

struct kvs_sink {
	struct zs_arena *a;
	struct zs_kvs *l;
};

static void kvs_sink_str(void *ctx, const char *key, const char *val)
{
	struct kvs_sink *k = ctx;

	zs_kv_str(k->a, k->l, key, val);
}

static void kvs_sink_int(void *ctx, const char *key, int64_t val)
{
	struct kvs_sink *k = ctx;

	zs_kv_int(k->a, k->l, key, val);
}

Zs__Otlp__Resource *zs_otlp_resource(struct zs_arena *a, const struct zs_resource *r,
				     const struct zs_kv *extra, int n_extra, bool with_pid)
{
	Zs__Otlp__Resource *res = zs_arena_alloc(a, sizeof(*res));
	struct zs_kvs l;
	struct kvs_sink k = { a, &l };
	const struct zs_attr_sink out = { kvs_sink_str, kvs_sink_int, &k };

	if (!res || zs_kvs_init(a, &l, 32 + ZS_RES_EXTRA + (size_t)n_extra))
		return NULL;
	zs__otlp__resource__init(res);
	zs_resource_attrs(r, extra, n_extra, with_pid, &out);
	res->attributes = l.v;
	res->n_attributes = l.n;
	return res;
}
