// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "enrol.h"

#include "clock.h"
#include "enrol.skel.h"
#include "log.h"
#include "procfs.h"
#include "zerospan_abi.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Network namespaces looked into at most (each its own run of the iterator). */
#define ZS_ENROL_NETNS_MAX 4096

static const char *const why_str[ZS_ENROL__COUNT] = {
#define ZS_X(name, what) what,
	ZS_ENROL_RESULTS(ZS_X)
#undef ZS_X
};

/* Each map of the enrolment that one of the loaded objects has (by name) is
 * that object's; the others (its own) are created. */
static int share_maps(struct enrol_bpf *e, struct bpf_object *sock, struct bpf_object *inj)
{
	struct bpf_map *m, *theirs;
	int err;

	bpf_object__for_each_map(m, e->obj)
	{
		theirs = bpf_object__find_map_by_name(inj, bpf_map__name(m));
		if (!theirs)
			theirs = bpf_object__find_map_by_name(sock, bpf_map__name(m));
		if (!theirs || bpf_map__fd(theirs) < 0)
			continue;
		err = bpf_map__reuse_fd(m, bpf_map__fd(theirs));
		if (err)
			return err;
	}
	return 0;
}

/* A socket's inode number into the map whose fd arg points to. */
static void add_socket(unsigned long ino, void *arg)
{
	uint64_t key = ino;
	uint8_t one = 1;

	bpf_map_update_elem(*(const int *)arg, &key, &one, BPF_ANY);
}

/* list_scope_sockets' walk */
struct scope_walk {
	const struct zs_config *cfg;
	int map_fd;
};

static int scope_sockets(uint32_t pid, void *arg)
{
	struct scope_walk *w = arg;
	char path[64];

	if (zs_proc_in_scope(w->cfg, "/proc", pid)) {
		snprintf(path, sizeof(path), "/proc/%u/fd", pid);
		zs_proc_sockets(path, add_socket, &w->map_fd);
	}
	return 0;
}

/* The sockets of the processes in the --pid/--exe scope go into map_fd. */
static void list_scope_sockets(const struct zs_config *cfg, int map_fd)
{
	struct scope_walk w = { .cfg = cfg, .map_fd = map_fd };

	zs_proc_each("/proc", scope_sockets, &w);
}

/* Runs the iterator (link_fd) once to its end, over the TCP sockets of the
 * calling thread's network namespace. */
static int run_iter(int link_fd)
{
	char buf[256];
	int fd = bpf_iter_create(link_fd), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* run_in_other_netns's walk */
struct ns_walk {
	uint64_t self;
	int link_fd, done, failed;
};

static int run_iter_here(void *arg)
{
	return run_iter(*(const int *)arg);
}

/* Runs the iterator in process pid's network namespace, unless it is the
 * agent's own. Nonzero when the process is gone. */
static int run_in_netns(uint32_t pid, uint64_t netns, void *arg)
{
	struct ns_walk *w = arg;
	int err;

	if (netns == w->self)
		return 0;
	err = zs_proc_in_netns("/proc", pid, run_iter_here, &w->link_fd);
	if (err == -ENOENT || err == -ESRCH)
		return -1;
	if (err)
		w->failed++;
	else
		w->done++;
	return 0;
}

/* Runs the iterator in every other network namespace a process of the host
 * is in (a pod's, a container's), once each. *failed: those it could not. */
static int run_in_other_netns(int link_fd, int *failed)
{
	struct ns_walk w = { .self = zs_proc_netns("/proc", (uint32_t)getpid()),
			     .link_fd = link_fd };

	zs_proc_each_netns("/proc", ZS_ENROL_NETNS_MAX, run_in_netns, &w);
	*failed = w.failed;
	return w.done;
}

int zs_enrol_open(struct bpf_object *sock, struct bpf_object *inj, const struct zs_config *cfg)
{
	struct enrol_bpf *e;
	char detail[512];
	size_t off = 0;
	uint64_t t0 = zs_now_ns(CLOCK_MONOTONIC);
	struct bpf_link *link = NULL;
	int err, i, n_ns, ns_failed, map_fd;

	e = enrol_bpf__open();
	if (!e)
		return -errno;
	e->rodata->filter_ports = cfg->n_ports > 0;
	e->rodata->enrol_listed = cfg->n_pids > 0 || cfg->n_exes > 0;
	err = share_maps(e, sock, inj);
	if (!err)
		err = enrol_bpf__load(e);
	if (err)
		goto fail;
	/* the exporter's connection may be open already */
	map_fd = bpf_map__fd(e->maps.enrol_skip);
	zs_proc_sockets("/proc/self/fd", add_socket, &map_fd);
	if (e->rodata->enrol_listed)
		list_scope_sockets(cfg, bpf_map__fd(e->maps.enrol_only));
	link = bpf_program__attach_iter(e->progs.zs_enrol_open, NULL);
	err = link ? run_iter(bpf_link__fd(link)) : -errno;
	if (err)
		goto fail;
	n_ns = 1 + run_in_other_netns(bpf_link__fd(link), &ns_failed);
	bpf_link__destroy(link);
	for (i = 1; i < ZS_ENROL__COUNT; i++)
		if (e->bss->enrol_counts[i] && off < sizeof(detail))
			off += (size_t)snprintf(
				detail + off, sizeof(detail) - off, "%s%llu %s", off ? ", " : "",
				(unsigned long long)e->bss->enrol_counts[i], why_str[i]);
	if (e->bss->enrol_counts[ZS_ENROL_UNSUPPORTED])
		log_info("injection: connections open before the start not enrolled (Linux "
			 "6.12+ lets a bpf iterator set their sockops callbacks)");
	log_info("injection: %llu client connections open before the start enrolled, in %d "
		 "network namespace%s%s, in %.1f ms (other TCP sockets: %s)",
		 (unsigned long long)e->bss->enrol_counts[ZS_ENROL_DONE], n_ns,
		 n_ns == 1 ? "" : "s", ns_failed ? "; some could not be entered" : "",
		 (double)(zs_now_ns(CLOCK_MONOTONIC) - t0) / 1e6, off ? detail : "none");
	err = (int)e->bss->enrol_counts[ZS_ENROL_DONE];
	enrol_bpf__destroy(e);
	return err;
fail:
	log_info("injection: connections open before the start not enrolled: %s", strerror(-err));
	bpf_link__destroy(link);
	enrol_bpf__destroy(e);
	return err;
}
