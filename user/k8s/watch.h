/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kubernetes pod metadata for this node: one thread lists the pods whose
 * spec.nodeName is this node and watches them (GET /api/v1/pods with a field
 * selector, watch=1, resumed from the last resourceVersion, relisted on 410),
 * authenticated with the pod's service account. Reconnects with backoff (1 s
 * doubling to 30 s) when the API server goes away; never polls.
 */
#ifndef ZS_K8S_WATCH_H
#define ZS_K8S_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "k8s/pods.h"

/* Starts the watch when cfg enables it (--k8s=on, or auto inside a pod).
 * Returns 0 (also when off), -1 with a message when on but unusable. */
int zs_k8s_start(const struct zs_config *cfg);
void zs_k8s_stop(void);

/* Metadata of a container (or its pod): false when unknown or the watch is off. */
bool zs_k8s_lookup(const char *container_id, const char *pod_uid, struct zs_k8s_meta *out);

/* Changes seen so far (0 when off): procinfo retries misses when it moves. */
uint64_t zs_k8s_generation(void);

/* Whether the watch runs. */
bool zs_k8s_enabled(void);

#endif
