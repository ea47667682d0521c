/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who a traced process is: the OTLP resource of its spans. Read once per
 * process from /proc and cached (bounded); resources are refcounted because
 * spans outlive the cache entry on their way to the exporter.
 */
#ifndef ZS_PROCINFO_H
#define ZS_PROCINFO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "container.h"
#include "k8s/pods.h"

#include "config.h"

#define ZS_RES_EXTRA 16

struct zs_resource {
	atomic_int refs;
	uint32_t pid;
	char service_name[128];
	char exe_name[64];
	char exe_path[256];
	char cmdline[512];
	struct zs_container container; /* from /proc/PID/cgroup; id "" outside containers */
	struct zs_k8s_meta k8s;	       /* pod metadata; pod_uid "" when not known (yet) */
	uint64_t k8s_generation;       /* of the pod table when looked up */
	uint64_t netns;		       /* inode of /proc/PID/ns/net; 0 if unknown */
	/* the process's own OTEL_RESOURCE_ATTRIBUTES (at most ZS_RES_EXTRA),
	 * malloc'd and freed with the resource; NULL when it has none (640
	 * bytes each: kept in the struct they made every process's entry 12 KB) */
	struct zs_kv *extra;
	int n_extra;
};

/* Sets /proc's root (tests), cache bound and the host name. */
int zs_procinfo_init(const char *proc_root, uint32_t max_entries);

/* Reads command lines into resources (off by default: they may hold secrets). */
void zs_procinfo_keep_cmdline(bool keep);
void zs_procinfo_fini(void);

/* The resource of pid, with a reference for the caller. comm names the process
 * when it is already gone. Never NULL unless out of memory. */
struct zs_resource *zs_procinfo_get(uint32_t pid, const char *comm);

/* Drops the entries of processes that are gone and not looked up for 5 s
 * (now: CLOCK_MONOTONIC ns), looking at about budget entries from where the
 * previous call stopped (whole hash buckets; all of them at most). Once a
 * second: a short-lived process's entry goes within seconds instead of
 * staying until the cache is full, so that a host starting many short-lived
 * clients keeps a small cache and a flat RSS. */
void zs_procinfo_sweep(uint64_t now, uint32_t budget);

void zs_resource_ref(struct zs_resource *r);
void zs_resource_unref(struct zs_resource *r);

/* host.name, read once. */
const char *zs_host_name(void);

#endif
