/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kubernetes pod metadata by container id: what the watch of the API server
 * (k8s/watch.c) learns, kept for procinfo to name processes. Pure logic: Pod
 * objects (json-c) in, bounded table out, no I/O. Thread-safe: the watch
 * thread writes, the event thread reads.
 */
#ifndef ZS_K8S_PODS_H
#define ZS_K8S_PODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* One container of one pod. Fields are "" when the object does not say. */
struct zs_k8s_meta {
	char container_id[65]; /* 64 hex, runtime prefix stripped; "" for a pod-level entry */
	char pod_uid[37];
	char pod_name[128];
	char namespace_name[64];
	char container_name[64];
	char node_name[128];
	char owner_kind[16];  /* k8s.<kind>.name: deployment, statefulset, daemonset, ... */
	char owner_name[128]; /* the top owner: a Deployment above its ReplicaSet, a
			       * CronJob above its Job */
	char replicaset_name[128];
	char job_name[128];
	char app_name[128];    /* label app.kubernetes.io/name */
	char env_service[128]; /* the container spec's own OTEL_SERVICE_NAME value */
	uint32_t n_containers; /* containers of the pod (a pod-level lookup names one only if 1) */
};

enum zs_k8s_event { ZS_K8S_ADDED, ZS_K8S_MODIFIED, ZS_K8S_DELETED };

struct zs_k8s_pods;

/* A table of at most max_containers containers. NULL on out of memory. */
struct zs_k8s_pods *zs_k8s_pods_new(uint32_t max_containers);
void zs_k8s_pods_free(struct zs_k8s_pods *p);

/* Applies one watch event's Pod object. Returns the containers stored, or -1
 * when the object is not a Pod we can read (counted by the caller). Containers
 * that do not fit are counted in *dropped. */
int zs_k8s_pods_apply(struct zs_k8s_pods *p, enum zs_k8s_event ev, struct json_object *pod,
		      uint64_t *dropped);

/* What one line of a watch stream was. */
enum zs_k8s_line {
	ZS_K8S_LINE_APPLIED,  /* ADDED, MODIFIED or DELETED, applied */
	ZS_K8S_LINE_BOOKMARK, /* only moves the resume point */
	ZS_K8S_LINE_GONE,     /* ERROR 410: the resume point is too old, list again */
	ZS_K8S_LINE_ERROR,    /* another ERROR event */
	ZS_K8S_LINE_INVALID,  /* not JSON, not an event, or a pod we cannot read */
};

/* Decodes one watch event line ({"type":..,"object":..}) and applies it.
 * The object's metadata.resourceVersion, when it has one, goes to rv (the
 * resume point) unless the line is GONE or INVALID. */
enum zs_k8s_line zs_k8s_watch_line(struct zs_k8s_pods *p, const char *line, char *rv, size_t rv_cap,
				   uint64_t *dropped);

/* A full list: marks every entry, then apply() each item, then sweep() removes
 * the pods the list no longer has. */
void zs_k8s_pods_mark(struct zs_k8s_pods *p);
void zs_k8s_pods_sweep(struct zs_k8s_pods *p);

/* Copies the metadata of container_id (64 hex) into out; falls back to the pod
 * (pod_uid, may be NULL) when the container is not listed yet. Returns true when
 * found. */
bool zs_k8s_pods_lookup(struct zs_k8s_pods *p, const char *container_id, const char *pod_uid,
			struct zs_k8s_meta *out);

/* Changes so far (bumped by every apply/sweep that changed something): lets a
 * cache retry a lookup that failed before. */
uint64_t zs_k8s_pods_generation(const struct zs_k8s_pods *p);
uint32_t zs_k8s_pods_count(struct zs_k8s_pods *p); /* containers stored */

/* Pod object helpers, exposed for tests. */
/* "containerd://<hex>", "cri-o://<hex>", "docker://<hex>" -> 64 hex; false otherwise. */
bool zs_k8s_container_id(const char *s, char out[65]);

/* service.name of a container by the usual order after the process's own
 * OTEL_SERVICE_NAME: the spec's OTEL_SERVICE_NAME, app.kubernetes.io/name, the
 * owner's name. NULL when m has none of them (the executable's name then). */
const char *zs_k8s_service_name(const struct zs_k8s_meta *m);

#endif
