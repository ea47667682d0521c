// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "k8s/pods.h"

#include <ctype.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 1024

struct node {
	struct zs_k8s_meta m;
	bool marked; /* set by mark(), cleared when a list re-applies the pod */
	struct node *next;
};

struct zs_k8s_pods {
	pthread_mutex_t mu;
	struct node *buckets[NBUCKETS];
	uint32_t n, max;
	_Atomic uint64_t generation;
};

static void cpy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static uint32_t hash_id(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h % NBUCKETS;
}

struct zs_k8s_pods *zs_k8s_pods_new(uint32_t max_containers)
{
	struct zs_k8s_pods *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	p->max = max_containers ? max_containers : 4096;
	return p;
}

void zs_k8s_pods_free(struct zs_k8s_pods *p)
{
	uint32_t i;

	if (!p)
		return;
	for (i = 0; i < NBUCKETS; i++) {
		struct node *n = p->buckets[i];

		while (n) {
			struct node *nx = n->next;

			free(n);
			n = nx;
		}
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

bool zs_k8s_container_id(const char *s, char out[65])
{
	const char *sep = s ? strstr(s, "://") : NULL;
	int i;

	if (!sep)
		return false;
	sep += 3;
	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)sep[i]))
			return false;
	if (sep[64])
		return false;
	for (i = 0; i < 64; i++)
		out[i] = (char)tolower((unsigned char)sep[i]);
	out[64] = 0;
	return true;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *jobj(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

/* Removes every entry of pod uid; returns how many. Caller holds mu. */
static uint32_t remove_pod(struct zs_k8s_pods *p, const char *uid)
{
	uint32_t i, removed = 0;

	for (i = 0; i < NBUCKETS; i++) {
		struct node **pp = &p->buckets[i];

		while (*pp) {
			struct node *n = *pp;

			if (strcmp(n->m.pod_uid, uid) == 0) {
				*pp = n->next;
				free(n);
				removed++;
				continue;
			}
			pp = &n->next;
		}
	}
	p->n -= removed;
	return removed;
}

/* The pod-wide part of the metadata (all but the container fields). */
static void pod_fields(struct json_object *pod, struct zs_k8s_meta *m)
{
	struct json_object *md = jobj(pod, "metadata", json_type_object);
	struct json_object *labels = jobj(md, "labels", json_type_object);
	struct json_object *owners = jobj(md, "ownerReferences", json_type_array);
	struct json_object *spec = jobj(pod, "spec", json_type_object);
	struct json_object *owner = NULL;
	const char *kind, *name, *hash;
	size_t i, n;
	char *k;

	cpy(m->pod_uid, sizeof(m->pod_uid), jstr(md, "uid"));
	cpy(m->pod_name, sizeof(m->pod_name), jstr(md, "name"));
	cpy(m->namespace_name, sizeof(m->namespace_name), jstr(md, "namespace"));
	cpy(m->node_name, sizeof(m->node_name), jstr(spec, "nodeName"));
	cpy(m->app_name, sizeof(m->app_name), jstr(labels, "app.kubernetes.io/name"));
	n = owners ? json_object_array_length(owners) : 0;
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(owners, i), *c;

		if (!json_object_is_type(o, json_type_object))
			continue;
		if (!owner)
			owner = o;
		if ((c = jobj(o, "controller", json_type_boolean)) && json_object_get_boolean(c)) {
			owner = o;
			break;
		}
	}
	kind = jstr(owner, "kind");
	name = jstr(owner, "name");
	if (!kind || !name)
		return;
	hash = jstr(labels, "pod-template-hash");
	if (strcmp(kind, "ReplicaSet") == 0) {
		size_t nl = strlen(name), hl = hash ? strlen(hash) : 0;

		cpy(m->replicaset_name, sizeof(m->replicaset_name), name);
		/* A Deployment names its ReplicaSets "<deployment>-<pod-template-hash>". */
		if (hl && nl > hl + 1 && name[nl - hl - 1] == '-' &&
		    strcmp(name + nl - hl, hash) == 0) {
			cpy(m->owner_kind, sizeof(m->owner_kind), "deployment");
			snprintf(m->owner_name, sizeof(m->owner_name), "%.*s", (int)(nl - hl - 1),
				 name);
			return;
		}
	}
	if (strcmp(kind, "Job") == 0) {
		size_t nl = strlen(name), d = 0;

		cpy(m->job_name, sizeof(m->job_name), name);
		/* A CronJob names its Jobs "<cronjob>-<scheduled time in minutes
		 * since 1970>" (8 digits since 1989): named after the Job, each
		 * run's pods would be a service of their own. */
		while (d < nl && isdigit((unsigned char)name[nl - 1 - d]))
			d++;
		if (d >= 8 && nl > d + 1 && name[nl - d - 1] == '-') {
			cpy(m->owner_kind, sizeof(m->owner_kind), "cronjob");
			snprintf(m->owner_name, sizeof(m->owner_name), "%.*s", (int)(nl - d - 1),
				 name);
			return;
		}
	}
	cpy(m->owner_kind, sizeof(m->owner_kind), kind);
	for (k = m->owner_kind; *k; k++)
		*k = (char)tolower((unsigned char)*k);
	cpy(m->owner_name, sizeof(m->owner_name), name);
}

/* The OTEL_SERVICE_NAME literal value of container name in spec (or ""). */
static void spec_service(struct json_object *spec, const char *name, char *out, size_t cap)
{
	static const char *const lists[] = { "containers", "initContainers",
					     "ephemeralContainers" };
	size_t l, i, j, n, ne;

	out[0] = 0;
	for (l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		struct json_object *cs = jobj(spec, lists[l], json_type_array);

		n = cs ? json_object_array_length(cs) : 0;
		for (i = 0; i < n; i++) {
			struct json_object *c = json_object_array_get_idx(cs, i);
			struct json_object *env = jobj(c, "env", json_type_array);
			const char *cn = jstr(c, "name");

			if (!cn || strcmp(cn, name) != 0)
				continue;
			ne = env ? json_object_array_length(env) : 0;
			for (j = 0; j < ne; j++) {
				struct json_object *e = json_object_array_get_idx(env, j);
				const char *en = jstr(e, "name"), *ev = jstr(e, "value");

				if (en && ev && *ev && strcmp(en, "OTEL_SERVICE_NAME") == 0) {
					cpy(out, cap, ev);
					return;
				}
			}
			return;
		}
	}
}

static bool insert(struct zs_k8s_pods *p, const struct zs_k8s_meta *m)
{
	struct node *n;
	uint32_t b;

	if (p->n >= p->max || !(n = calloc(1, sizeof(*n))))
		return false;
	n->m = *m;
	b = hash_id(m->container_id);
	n->next = p->buckets[b];
	p->buckets[b] = n;
	p->n++;
	return true;
}

int zs_k8s_pods_apply(struct zs_k8s_pods *p, enum zs_k8s_event ev, struct json_object *pod,
		      uint64_t *dropped)
{
	static const char *const lists[] = { "containerStatuses", "initContainerStatuses",
					     "ephemeralContainerStatuses" };
	struct json_object *spec = jobj(pod, "spec", json_type_object);
	struct json_object *status = jobj(pod, "status", json_type_object);
	struct zs_k8s_meta base = { 0 };
	int stored = 0, with_id = 0;
	uint32_t total = 0;
	size_t l, i, n;
	const char *kind = jstr(pod, "kind");

	if (!json_object_is_type(pod, json_type_object) || (kind && strcmp(kind, "Pod") != 0))
		return -1;
	pod_fields(pod, &base);
	if (!base.pod_uid[0])
		return -1;
	pthread_mutex_lock(&p->mu);
	if (remove_pod(p, base.pod_uid))
		atomic_fetch_add(&p->generation, 1);
	if (ev == ZS_K8S_DELETED) {
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	for (l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		struct json_object *cs = jobj(status, lists[l], json_type_array);

		total += cs ? (uint32_t)json_object_array_length(cs) : 0;
	}
	{
		struct json_object *cs = jobj(spec, "containers", json_type_array);
		size_t ns = cs ? json_object_array_length(cs) : 0;

		base.n_containers = total > ns ? total : (uint32_t)ns;
		/* Not started yet but only one container: the pod entry names it. */
		if (ns == 1 && total <= 1) {
			cpy(base.container_name, sizeof(base.container_name),
			    jstr(json_object_array_get_idx(cs, 0), "name"));
			spec_service(spec, base.container_name, base.env_service,
				     sizeof(base.env_service));
		}
	}
	for (l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		struct json_object *cs = jobj(status, lists[l], json_type_array);

		n = cs ? json_object_array_length(cs) : 0;
		for (i = 0; i < n; i++) {
			struct json_object *c = json_object_array_get_idx(cs, i);
			struct zs_k8s_meta m = base;

			if (!zs_k8s_container_id(jstr(c, "containerID"), m.container_id))
				continue;
			cpy(m.container_name, sizeof(m.container_name), jstr(c, "name"));
			spec_service(spec, m.container_name, m.env_service, sizeof(m.env_service));
			with_id++;
			if (insert(p, &m))
				stored++;
			else if (dropped)
				(*dropped)++;
		}
	}
	/* No container started yet: keep the pod itself for lookups by pod uid. */
	if (!with_id) {
		if (insert(p, &base))
			stored++;
		else if (dropped)
			(*dropped)++;
	}
	atomic_fetch_add(&p->generation, 1);
	pthread_mutex_unlock(&p->mu);
	return stored;
}

enum zs_k8s_line zs_k8s_watch_line(struct zs_k8s_pods *p, const char *line, char *rv, size_t rv_cap,
				   uint64_t *dropped)
{
	struct json_object *o = json_tokener_parse(line), *obj, *code;
	const char *t = jstr(o, "type"), *v;
	enum zs_k8s_line r = ZS_K8S_LINE_INVALID;

	if (!t || !json_object_object_get_ex(o, "object", &obj) ||
	    !json_object_is_type(obj, json_type_object))
		goto out;
	if (strcmp(t, "ERROR") == 0) {
		code = jobj(obj, "code", json_type_int);
		r = code && json_object_get_int(code) == 410 ? ZS_K8S_LINE_GONE : ZS_K8S_LINE_ERROR;
	} else if (strcmp(t, "BOOKMARK") == 0) {
		r = ZS_K8S_LINE_BOOKMARK;
	} else if (strcmp(t, "ADDED") == 0 || strcmp(t, "MODIFIED") == 0 ||
		   strcmp(t, "DELETED") == 0) {
		enum zs_k8s_event ev = t[0] == 'A'   ? ZS_K8S_ADDED
				       : t[0] == 'M' ? ZS_K8S_MODIFIED
						     : ZS_K8S_DELETED;

		r = zs_k8s_pods_apply(p, ev, obj, dropped) < 0 ? ZS_K8S_LINE_INVALID
							       : ZS_K8S_LINE_APPLIED;
	}
	if (r != ZS_K8S_LINE_INVALID && r != ZS_K8S_LINE_GONE &&
	    (v = jstr(jobj(obj, "metadata", json_type_object), "resourceVersion")))
		cpy(rv, rv_cap, v);
out:
	json_object_put(o);
	return r;
}

void zs_k8s_pods_mark(struct zs_k8s_pods *p)
{
	uint32_t i;
	struct node *n;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < NBUCKETS; i++)
		for (n = p->buckets[i]; n; n = n->next)
			n->marked = true;
	pthread_mutex_unlock(&p->mu);
}

void zs_k8s_pods_sweep(struct zs_k8s_pods *p)
{
	uint32_t i, removed = 0;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < NBUCKETS; i++) {
		struct node **pp = &p->buckets[i];

		while (*pp) {
			struct node *n = *pp;

			if (n->marked) {
				*pp = n->next;
				free(n);
				removed++;
				continue;
			}
			pp = &n->next;
		}
	}
	p->n -= removed;
	if (removed)
		atomic_fetch_add(&p->generation, 1);
	pthread_mutex_unlock(&p->mu);
}

bool zs_k8s_pods_lookup(struct zs_k8s_pods *p, const char *container_id, const char *pod_uid,
			struct zs_k8s_meta *out)
{
	struct node *n, *pod = NULL;
	bool found = false;
	uint32_t i;

	if (!p)
		return false;
	pthread_mutex_lock(&p->mu);
	if (container_id && *container_id) {
		for (n = p->buckets[hash_id(container_id)]; n; n = n->next)
			if (strcmp(n->m.container_id, container_id) == 0) {
				*out = n->m;
				found = true;
				break;
			}
	}
	for (i = 0; !found && pod_uid && *pod_uid && i < NBUCKETS && !pod; i++)
		for (n = p->buckets[i]; n; n = n->next)
			if (strcmp(n->m.pod_uid, pod_uid) == 0) {
				pod = n;
				break;
			}
	if (pod) {
		*out = pod->m;
		/* Which container it is, only when the pod has one. */
		if (pod->m.n_containers != 1) {
			out->container_name[0] = 0;
			out->env_service[0] = 0;
		}
		out->container_id[0] = 0;
		found = true;
	}
	pthread_mutex_unlock(&p->mu);
	return found;
}

uint64_t zs_k8s_pods_generation(const struct zs_k8s_pods *p)
{
	return p ? atomic_load(&((struct zs_k8s_pods *)p)->generation) : 0;
}

uint32_t zs_k8s_pods_count(struct zs_k8s_pods *p)
{
	uint32_t n;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	n = p->n;
	pthread_mutex_unlock(&p->mu);
	return n;
}

const char *zs_k8s_service_name(const struct zs_k8s_meta *m)
{
	if (m->env_service[0])
		return m->env_service;
	if (m->app_name[0])
		return m->app_name;
	if (m->owner_name[0])
		return m->owner_name;
	return NULL;
}
