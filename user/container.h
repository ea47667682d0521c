/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Container identity from a process's /proc/PID/cgroup, cgroup v1 and v2,
 * in the path formats of docker, containerd (also under Kubernetes),
 * CRI-O and podman: the 64-hex container id and, under Kubernetes, the pod
 * uid. Pure parsing, no I/O.
 */
#ifndef ZS_CONTAINER_H
#define ZS_CONTAINER_H

#include <stddef.h>

#define ZS_CONTAINER_ID_LEN 64

struct zs_container {
	char id[ZS_CONTAINER_ID_LEN + 1]; /* "" when not in a container we know */
	char pod_uid[37];		  /* "" unless a Kubernetes pod */
	char runtime[12];		  /* docker, containerd, cri-o, podman, "" */
};

/* Parses the text of /proc/PID/cgroup (len bytes). Returns 1 when an id was found. */
int zs_container_parse(const char *text, size_t len, struct zs_container *out);

#endif
