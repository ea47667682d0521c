// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "listeners.h"

#include "metrics.h"
#include "procfs.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct listener {
	uint8_t addr[16];
	uint16_t port;
	uint32_t netns;
	uint32_t pid;
};

static struct listener tab[ZS_LISTENERS_MAX];
static int n;

static const uint8_t v4any[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0 };
static const uint8_t v6any[16] = { 0 };

static int is_any(const uint8_t a[16])
{
	return memcmp(a, v4any, 16) == 0 || memcmp(a, v6any, 16) == 0;
}

static int find(const uint8_t addr[16], uint16_t port, uint32_t netns)
{
	int i;

	for (i = 0; i < n; i++)
		if (tab[i].port == port && tab[i].netns == netns && !memcmp(tab[i].addr, addr, 16))
			return i;
	return -1;
}

static void add(const uint8_t addr[16], uint16_t port, uint32_t netns, uint32_t pid)
{
	int i = find(addr, port, netns);

	if (i < 0) {
		if (n == ZS_LISTENERS_MAX) {
			zs_count(listeners_untracked);
			return;
		}
		i = n++;
	}
	memcpy(tab[i].addr, addr, 16);
	tab[i].port = port;
	tab[i].netns = netns;
	tab[i].pid = pid;
}

void zs_listeners_on_event(const struct zs_conn_event *ev, int up)
{
	int i;

	if (up) {
		add(ev->laddr, ev->lport, ev->netns, ev->hdr.pid);
		return;
	}
	i = find(ev->laddr, ev->lport, ev->netns);
	if (i >= 0)
		tab[i] = tab[--n];
}

uint32_t zs_listeners_pid(const uint8_t addr[16], uint16_t port, uint32_t netns)
{
	uint32_t pid = 0, local = 0;
	int i, several = 0;

	for (i = 0; i < n; i++) {
		const struct listener *l = &tab[i];

		if (l->port != port || (!is_any(l->addr) && memcmp(l->addr, addr, 16)))
			continue;
		if (l->netns == netns && !local)
			local = l->pid;
		if (pid && pid != l->pid)
			several = 1;
		pid = l->pid;
	}
	if (local)
		return local;
	return several ? 0 : pid;
}

/* Parses one /proc/net/tcp{,6} line of a listening socket: address, port, inode. */
static int parse_line(const char *line, int v6, uint8_t addr[16], uint16_t *port,
		      unsigned long *inode)
{
	char a[40];
	unsigned int p, st;
	int k;

	if (sscanf(line, " %*d: %39[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu", a, &p, &st,
		   inode) != 4 ||
	    st != 0x0a /* TCP_LISTEN */)
		return -1;
	memset(addr, 0, 16);
	if (!v6) {
		unsigned int x;

		if (strlen(a) != 8 || sscanf(a, "%x", &x) != 1)
			return -1;
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &x, 4); /* the kernel prints the address as a host-order word */
	} else {
		if (strlen(a) != 32)
			return -1;
		for (k = 0; k < 4; k++) {
			unsigned int x;
			char w[9];

			memcpy(w, a + 8 * k, 8);
			w[8] = 0;
			if (sscanf(w, "%x", &x) != 1)
				return -1;
			memcpy(addr + 4 * k, &x, 4);
		}
	}
	*port = (uint16_t)p;
	return 0;
}

struct found_listener {
	uint8_t addr[16];
	uint16_t port;
	unsigned long inode;
};

/* zs_listeners_scan's walk of the processes' sockets */
struct owner_walk {
	const struct found_listener *found;
	int n_found;
	uint32_t netns, pid;
};

/* A socket process w->pid holds: if it is one of the listeners found, the
 * process owns that listener. */
static void owns(unsigned long ino, void *arg)
{
	const struct owner_walk *w = arg;
	int i;

	for (i = 0; i < w->n_found; i++)
		if (w->found[i].inode == ino)
			add(w->found[i].addr, w->found[i].port, w->netns, w->pid);
}

void zs_listeners_scan(const char *proc_root)
{
	struct found_listener found[256];
	struct owner_walk owner;
	char path[PATH_MAX], line[512];
	int n_found = 0, v6;
	unsigned long self_netns = 0;
	struct dirent *d;
	DIR *procs;

	snprintf(path, sizeof(path), "%s/self/ns/net", proc_root);
	if (readlink(path, line, sizeof(line) - 1) > 0)
		sscanf(line, "net:[%lu]", &self_netns);
	for (v6 = 0; v6 < 2; v6++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/net/%s", proc_root, v6 ? "tcp6" : "tcp");
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f) && n_found < 256)
			if (parse_line(line, v6, found[n_found].addr, &found[n_found].port,
				       &found[n_found].inode) == 0)
				n_found++;
		if (f)
			fclose(f);
	}
	if (!n_found)
		return;
	/* who owns them: a walk of every process's fds, once */
	owner.found = found;
	owner.n_found = n_found;
	owner.netns = (uint32_t)self_netns;
	procs = opendir(proc_root);
	while (procs && (d = readdir(procs)) != NULL) {
		char *end;
		unsigned long pid = strtoul(d->d_name, &end, 10);

		if (*end || !pid)
			continue;
		snprintf(path, sizeof(path), "%s/%lu/fd", proc_root, pid);
		owner.pid = (uint32_t)pid;
		zs_proc_sockets(path, owns, &owner);
	}
	if (procs)
		closedir(procs);
}

void zs_listeners_clear(void)
{
	n = 0;
}
