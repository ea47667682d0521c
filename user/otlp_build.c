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

char *zs_arena_str(struct zs_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = zs_arena_alloc(a, n);

	if (p)
		memcpy(p, s, n);
	return p;
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

bool zs_kvs_has(const struct zs_kvs *l, const char *key)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i]->key, key) == 0)
			return true;
	return false;
}

/* k8s.* attributes of a container; owners of the kinds semantic conventions name. */
static void zs_resource_k8s(struct zs_arena *a, struct zs_kvs *l, const struct zs_k8s_meta *m)
{
	static const char *const owners[][2] = {
		{ "deployment", "k8s.deployment.name" }, { "statefulset", "k8s.statefulset.name" },
		{ "daemonset", "k8s.daemonset.name" },	 { "job", "k8s.job.name" },
		{ "cronjob", "k8s.cronjob.name" },
	};
	size_t i;

	zs_kv_str(a, l, "k8s.pod.name", m->pod_name);
	zs_kv_str(a, l, "k8s.namespace.name", m->namespace_name);
	zs_kv_str(a, l, "k8s.container.name", m->container_name);
	zs_kv_str(a, l, "k8s.node.name", m->node_name);
	zs_kv_str(a, l, "k8s.replicaset.name", m->replicaset_name);
	for (i = 0; i < sizeof(owners) / sizeof(owners[0]); i++)
		if (strcmp(m->owner_kind, owners[i][0]) == 0)
			zs_kv_str(a, l, owners[i][1], m->owner_name);
}

Zs__Otlp__Resource *zs_otlp_resource(struct zs_arena *a, const struct zs_resource *r,
				     const struct zs_kv *extra, int n_extra)
{
	Zs__Otlp__Resource *res = zs_arena_alloc(a, sizeof(*res));
	struct zs_kvs l;
	int i;

	if (!res || zs_kvs_init(a, &l, 32 + ZS_RES_EXTRA + (size_t)n_extra))
		return NULL;
	zs__otlp__resource__init(res);
	zs_kv_str(a, &l, "service.name", r ? r->service_name : "unknown_service");
	if (r) {
		zs_kv_int(a, &l, "process.pid", r->pid);
		zs_kv_str(a, &l, "process.executable.name", r->exe_name);
		zs_kv_str(a, &l, "process.executable.path", r->exe_path);
		zs_kv_str(a, &l, "process.command_line", r->cmdline);
		zs_kv_str(a, &l, "container.id", r->container.id);
		zs_kv_str(a, &l, "container.runtime", r->container.runtime);
		/* No semantic convention names a network namespace: ours. */
		if (r->netns)
			zs_kv_int(a, &l, "zerospan.netns", (int64_t)r->netns);
		zs_kv_str(a, &l, "k8s.pod.uid",
			  r->k8s.pod_uid[0] ? r->k8s.pod_uid : r->container.pod_uid);
		zs_resource_k8s(a, &l, &r->k8s);
	}
	zs_kv_str(a, &l, "host.name", zs_host_name());
	zs_kv_str(a, &l, "telemetry.sdk.name", "zerospan");
	zs_kv_str(a, &l, "telemetry.sdk.language", "c");
	zs_kv_str(a, &l, "telemetry.sdk.version", ZS_VERSION);
	/* The process's own OTEL_RESOURCE_ATTRIBUTES, then the agent's. */
	for (i = 0; r && i < r->n_extra; i++)
		if (!zs_kvs_has(&l, r->extra[i].key))
			zs_kv_str(a, &l, r->extra[i].key, r->extra[i].value);
	for (i = 0; i < n_extra; i++)
		if (!zs_kvs_has(&l, extra[i].key))
			zs_kv_str(a, &l, extra[i].key, extra[i].value);
	res->attributes = l.v;
	res->n_attributes = l.n;
	return res;
}
