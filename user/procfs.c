// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int zs_proc_in_scope(const struct zs_config *cfg, const char *proc_root, uint32_t pid)
{
	char path[PATH_MAX], comm[32] = "";
	FILE *f;
	int i;

	if (pid == (uint32_t)getpid())
		return 0;
	if (cfg->n_pids) {
		for (i = 0; i < cfg->n_pids; i++)
			if (cfg->pids[i] == pid)
				break;
		if (i == cfg->n_pids)
			return 0;
	}
	if (!cfg->n_exes)
		return 1;
	snprintf(path, sizeof(path), "%s/%u/comm", proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(comm, sizeof(comm), f))
		comm[strcspn(comm, "\n")] = 0;
	fclose(f);
	for (i = 0; i < cfg->n_exes; i++)
		if (strncmp(cfg->exes[i], comm, 15) == 0)
			return 1;
	return 0;
}

void zs_proc_sockets(const char *fd_dir, void (*fn)(unsigned long ino, void *arg), void *arg)
{
	DIR *d = opendir(fd_dir);
	struct dirent *de;
	char path[PATH_MAX], link[64];
	unsigned long ino;
	ssize_t n;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", fd_dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (sscanf(link, "socket:[%lu]", &ino) == 1)
			fn(ino, arg);
	}
	closedir(d);
}

uint64_t zs_proc_netns(const char *proc_root, uint32_t pid)
{
	char path[PATH_MAX], link[64];
	unsigned long long ino;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%u/ns/net", proc_root, pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	return sscanf(link, "net:[%llu]", &ino) == 1 ? ino : 0;
}

void zs_proc_each(const char *proc_root, int (*fn)(uint32_t pid, void *arg), void *arg)
{
	DIR *d = opendir(proc_root);
	struct dirent *de;
	unsigned long pid;
	char *end;

	while (d && (de = readdir(d)) != NULL) {
		pid = strtoul(de->d_name, &end, 10);
		if (!*end && pid && fn((uint32_t)pid, arg))
			break;
	}
	if (d)
		closedir(d);
}

/* zs_proc_each_netns's walk: the namespaces handled so far */
struct netns_walk {
	const char *proc_root;
	int (*fn)(uint32_t pid, uint64_t netns, void *arg);
	void *arg;
	uint64_t *seen;
	int n, max;
};

static int netns_of(uint32_t pid, void *arg)
{
	struct netns_walk *w = arg;
	uint64_t ns = zs_proc_netns(w->proc_root, pid);
	int i;

	if (!ns)
		return 0;
	for (i = 0; i < w->n && w->seen[i] != ns; i++)
		;
	if (i == w->n && w->fn(pid, ns, w->arg) == 0)
		w->seen[w->n++] = ns;
	return w->n == w->max;
}

int zs_proc_each_netns(const char *proc_root, int max,
		       int (*fn)(uint32_t pid, uint64_t netns, void *arg), void *arg)
{
	struct netns_walk w = { .proc_root = proc_root,
				.fn = fn,
				.arg = arg,
				.max = max,
				.seen = calloc((size_t)max, sizeof(uint64_t)) };

	if (w.seen && max > 0)
		zs_proc_each(proc_root, netns_of, &w);
	free(w.seen);
	return w.n;
}

struct ns_call {
	int ns_fd, ret;
	int (*fn)(void *arg);
	void *arg;
};

static void *ns_thread(void *p)
{
	struct ns_call *c = p;

	c->ret = setns(c->ns_fd, CLONE_NEWNET) ? -errno : c->fn(c->arg);
	return NULL;
}

int zs_proc_in_netns(const char *proc_root, uint32_t pid, int (*fn)(void *arg), void *arg)
{
	struct ns_call c = { .ret = -EAGAIN, .fn = fn, .arg = arg };
	char path[PATH_MAX];
	pthread_t t;
	int err;

	snprintf(path, sizeof(path), "%s/%u/ns/net", proc_root, pid);
	c.ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c.ns_fd < 0)
		return -errno;
	err = pthread_create(&t, NULL, ns_thread, &c);
	if (err == 0)
		pthread_join(t, NULL);
	close(c.ns_fd);
	return err ? -err : c.ret;
}
