// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "procinfo.h"

#include "clock.h"
#include "k8s/watch.h"
#include "log.h"
#include "metrics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct entry {
	uint32_t pid;
	uint64_t start_time; /* /proc/PID/stat field 22: tells pid reuse apart */
	uint64_t checked_ns; /* CLOCK_MONOTONIC when start_time was last read */
	struct zs_resource *res;
	struct entry *next;
};

#define NBUCKETS 4096

/* A pid's start time is read again at most this often. Reading
 * /proc/PID/stat on every lookup (one per new connection) was two thirds of
 * the agent's CPU at 14,000 new connections/s; a pid reused within this
 * window keeps the previous process's resource for at most as long. */
#define RECHECK_NS 1000000000ULL

/* zs_procinfo_sweep leaves an entry looked up (checked) this recently: the
 * records of a process that just exited may still wait in the ring, and
 * read again its connections would have only its comm. */
#define SWEEP_IDLE_NS 5000000000ULL

static struct entry *buckets[NBUCKETS];
static uint32_t n_entries, max_entries = 2048; /* ~2.2 KB each (~3 KB of RSS) */
static char proc_root[256] = "/proc";
static char host_name[256];
static bool keep_cmdline;

void zs_procinfo_keep_cmdline(bool keep)
{
	keep_cmdline = keep;
}

int zs_procinfo_init(const char *root, uint32_t max)
{
	if (root)
		snprintf(proc_root, sizeof(proc_root), "%s", root);
	if (max)
		max_entries = max;
	if (gethostname(host_name, sizeof(host_name) - 1))
		snprintf(host_name, sizeof(host_name), "unknown");
	return 0;
}

const char *zs_host_name(void)
{
	return host_name;
}

void zs_resource_ref(struct zs_resource *r)
{
	atomic_fetch_add(&r->refs, 1);
}

void zs_resource_unref(struct zs_resource *r)
{
	if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
		free(r->extra);
		free(r);
	}
}

static ssize_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < cap - 1 && (n = read(fd, buf + total, cap - 1 - (size_t)total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	return total;
}

static uint64_t read_start_time(uint32_t pid)
{
	char path[300], buf[1024], *p;
	unsigned long long st = 0;
	int field;

	snprintf(path, sizeof(path), "%s/%u/stat", proc_root, pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	/* comm may contain spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	sscanf(p, "%llu", &st);
	return st;
}

/* Finds NAME=value in a NUL-separated environ block. */
static const char *environ_get(const char *env, size_t len, const char *name)
{
	size_t nl = strlen(name), i = 0;

	while (i < len) {
		const char *e = env + i;
		size_t el = strnlen(e, len - i);

		if (el > nl && strncmp(e, name, nl) == 0 && e[nl] == '=')
			return e + nl + 1;
		i += el + 1;
	}
	return NULL;
}

static struct zs_resource *resource_load(uint32_t pid, const char *comm)
{
	struct zs_resource *r = calloc(1, sizeof(*r));
	char path[300];
	static char env[65536];
	struct stat st;
	ssize_t n;
	const char *v;

	if (!r)
		return NULL;
	atomic_store(&r->refs, 1);
	r->pid = pid;
	snprintf(path, sizeof(path), "%s/%u/exe", proc_root, pid);
	n = readlink(path, r->exe_path, sizeof(r->exe_path) - 1);
	if (n > 0) {
		const char *base;

		r->exe_path[n] = 0;
		/* A replaced binary reads "/usr/bin/x (deleted)". */
		if (n > 10 && strcmp(r->exe_path + n - 10, " (deleted)") == 0)
			r->exe_path[n - 10] = 0;
		base = strrchr(r->exe_path, '/');
		snprintf(r->exe_name, sizeof(r->exe_name), "%s", base ? base + 1 : r->exe_path);
	} else {
		snprintf(r->exe_name, sizeof(r->exe_name), "%s", comm && *comm ? comm : "unknown");
	}
	snprintf(path, sizeof(path), "%s/%u/cmdline", proc_root, pid);
	n = keep_cmdline ? read_file(path, r->cmdline, sizeof(r->cmdline)) : 0;
	if (n > 0) {
		ssize_t i;

		for (i = 0; i < n - 1; i++)
			if (!r->cmdline[i])
				r->cmdline[i] = ' ';
		while (n > 0 && (r->cmdline[n - 1] == ' ' || !r->cmdline[n - 1]))
			r->cmdline[--n] = 0;
	}
	snprintf(path, sizeof(path), "%s/%u/ns/net", proc_root, pid);
	if (stat(path, &st) == 0)
		r->netns = st.st_ino;
	snprintf(path, sizeof(path), "%s/%u/cgroup", proc_root, pid);
	n = read_file(path, env, sizeof(env));
	if (n > 0)
		zs_container_parse(env, (size_t)n, &r->container);
	snprintf(path, sizeof(path), "%s/%u/environ", proc_root, pid);
	n = read_file(path, env, sizeof(env));
	if (n > 0) {
		if ((v = environ_get(env, (size_t)n, "OTEL_RESOURCE_ATTRIBUTES"))) {
			static struct zs_kv kv[ZS_RES_EXTRA]; /* the event loop's alone */
			int k = zs_parse_kv_list(v, kv, ZS_RES_EXTRA);

			if (k > 0 && (r->extra = malloc((size_t)k * sizeof(*kv)))) {
				memcpy(r->extra, kv, (size_t)k * sizeof(*kv));
				r->n_extra = k;
			}
		}
		if ((v = environ_get(env, (size_t)n, "OTEL_SERVICE_NAME")) && *v)
			snprintf(r->service_name, sizeof(r->service_name), "%s", v);
	}
	if (!r->service_name[0]) {
		int i;

		for (i = 0; i < r->n_extra; i++)
			if (strcmp(r->extra[i].key, "service.name") == 0)
				snprintf(r->service_name, sizeof(r->service_name), "%s",
					 r->extra[i].value);
	}
	/* Pod metadata; a miss is retried when the pod table changes. */
	r->k8s_generation = zs_k8s_generation();
	if (r->container.id[0] || r->container.pod_uid[0])
		zs_k8s_lookup(r->container.id, r->container.pod_uid, &r->k8s);
	if (!r->service_name[0] && (v = zs_k8s_service_name(&r->k8s)))
		snprintf(r->service_name, sizeof(r->service_name), "%s", v);
	if (!r->service_name[0])
		snprintf(r->service_name, sizeof(r->service_name), "%s", r->exe_name);
	return r;
}

/* Frees an entry taken out of its bucket (the resource lives on while spans
 * hold it). */
static void entry_free(struct entry *e)
{
	zs_resource_unref(e->res);
	free(e);
}

/* Is the process of e gone? (A reused pid is told apart at lookup.) */
static bool entry_gone(const struct entry *e)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%u", proc_root, e->pid);
	return access(path, F_OK) != 0;
}

/* Drops the entries of the bucket at pp whose process is gone, of those last
 * checked at checked_before or earlier (UINT64_MAX: all). Returns how many
 * entries it looked at. */
static uint32_t drop_gone(struct entry **pp, uint64_t checked_before)
{
	uint32_t seen = 0;

	while (*pp) {
		struct entry *e = *pp;

		seen++;
		if (e->checked_ns <= checked_before && entry_gone(e)) {
			*pp = e->next;
			entry_free(e);
			n_entries--;
			continue;
		}
		pp = &e->next;
	}
	return seen;
}

/* Makes room for many inserts at once: drops the entries of every process
 * that is gone, then, while more than about 7/8 of the bound are left (all
 * running), whole buckets in turn. A pass stats each entry once; the next
 * comes max_entries / 8 inserts later at the earliest. (It dropped one gone
 * entry at a time, restarting its scan at the first bucket each insert, and
 * when all were running it dropped a bucket that was usually empty: the
 * cache grew to twice its bound.) */
static void evict_some(void)
{
	const uint32_t low = max_entries - 1 - max_entries / 8;
	static uint32_t victim;
	uint32_t i;

	for (i = 0; i < NBUCKETS; i++)
		drop_gone(&buckets[i], UINT64_MAX);
	for (i = 0; i < NBUCKETS && n_entries > low; i++) {
		struct entry *e = buckets[victim % NBUCKETS];

		buckets[victim++ % NBUCKETS] = NULL;
		while (e) {
			struct entry *nx = e->next;

			entry_free(e);
			n_entries--;
			e = nx;
		}
	}
}

void zs_procinfo_sweep(uint64_t now, uint32_t budget)
{
	static uint32_t cursor;
	uint64_t idle_since = now >= SWEEP_IDLE_NS ? now - SWEEP_IDLE_NS : 0;
	uint32_t seen = 0, i;

	for (i = 0; i < NBUCKETS && seen < budget; i++, cursor = (cursor + 1) % NBUCKETS)
		seen += drop_gone(&buckets[cursor], idle_since);
	zs_gauge_set(procs_cached, n_entries);
}

/* A container process whose pod was not known when it was loaded, and the
 * pod table has changed since. */
static bool k8s_stale(const struct zs_resource *r)
{
	return (r->container.id[0] || r->container.pod_uid[0]) && !r->k8s.pod_uid[0] &&
	       zs_k8s_enabled() && zs_k8s_generation() != r->k8s_generation;
}

struct zs_resource *zs_procinfo_get(uint32_t pid, const char *comm)
{
	struct entry **pp = &buckets[pid % NBUCKETS], *e;
	uint64_t now = zs_now_ns(CLOCK_MONOTONIC), st = 0;
	bool have_st = false;

	for (e = *pp; e; pp = &e->next, e = e->next) {
		if (e->pid != pid)
			continue;
		if (now - e->checked_ns < RECHECK_NS && !k8s_stale(e->res)) {
			zs_resource_ref(e->res);
			return e->res;
		}
		st = read_start_time(pid);
		have_st = true;
		if ((e->start_time == st || st == 0) && !(st && k8s_stale(e->res))) {
			e->checked_ns = now;
			zs_resource_ref(e->res);
			return e->res;
		}
		/* pid reused by another process, or its pod is known now */
		*pp = e->next;
		entry_free(e);
		n_entries--;
		break;
	}
	if (!have_st)
		st = read_start_time(pid);
	if (n_entries >= max_entries)
		evict_some();
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->pid = pid;
	e->start_time = st;
	e->checked_ns = now;
	e->res = resource_load(pid, comm);
	if (!e->res) {
		free(e);
		return NULL;
	}
	e->next = buckets[pid % NBUCKETS];
	buckets[pid % NBUCKETS] = e;
	n_entries++;
	zs_gauge_set(procs_cached, n_entries);
	zs_resource_ref(e->res);
	return e->res;
}

void zs_procinfo_fini(void)
{
	uint32_t i;

	for (i = 0; i < NBUCKETS; i++) {
		struct entry *e = buckets[i];

		while (e) {
			struct entry *nx = e->next;

			entry_free(e);
			e = nx;
		}
		buckets[i] = NULL;
	}
	n_entries = 0;
}
