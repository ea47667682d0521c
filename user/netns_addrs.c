// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "netns_addrs.h"

#include "procfs.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct ns_addrs {
	uint32_t netns;
	int n, known; /* known: read at read_ns (else it could not be, then) */
	uint64_t read_ns;
	uint8_t addr[ZS_NETNS_ADDRS_MAX][16];
};

static struct ns_addrs tab[ZS_NETNS_ADDRS_NS];
static int n_tab;
static char root[PATH_MAX] = "/proc";

void zs_netns_addrs_root(const char *proc_root)
{
	snprintf(root, sizeof(root), "%s", proc_root);
}

void zs_netns_addrs_clear(void)
{
	n_tab = 0;
}

static int is_loopback(const uint8_t a[16])
{
	static const uint8_t v4[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t v6[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

	return (!memcmp(a, v4, 12) && a[12] == 127) || !memcmp(a, v6, 16);
}

static void put(struct ns_addrs *e, const uint8_t a[16])
{
	int i;

	for (i = 0; i < e->n; i++)
		if (!memcmp(e->addr[i], a, 16))
			return;
	if (e->n < ZS_NETNS_ADDRS_MAX)
		memcpy(e->addr[e->n++], a, 16);
}

/* IPv4: the routes of the local table in fib_trie, "|-- A.B.C.D" followed
 * by "/32 host LOCAL". Nonzero when the file cannot be read. */
static int read_v4(struct ns_addrs *e, uint32_t pid)
{
	char path[PATH_MAX], line[256];
	unsigned int b[4];
	uint8_t last[16] = { 0 };
	int have = 0;
	const char *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u/net/fib_trie", root, pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if ((p = strstr(line, "|-- ")) != NULL) {
			have = sscanf(p + 4, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]) == 4 &&
			       b[0] < 256 && b[1] < 256 && b[2] < 256 && b[3] < 256;
			last[10] = last[11] = 0xff;
			last[12] = (uint8_t)b[0];
			last[13] = (uint8_t)b[1];
			last[14] = (uint8_t)b[2];
			last[15] = (uint8_t)b[3];
		} else if (have && strstr(line, "/32 host LOCAL")) {
			put(e, last);
		}
	}
	fclose(f);
	return 0;
}

/* IPv6: if_inet6's first column (absent without IPv6). */
static void read_v6(struct ns_addrs *e, uint32_t pid)
{
	char path[PATH_MAX], hex[33];
	uint8_t a[16];
	unsigned int x;
	FILE *f;
	int k;

	snprintf(path, sizeof(path), "%s/%u/net/if_inet6", root, pid);
	f = fopen(path, "re");
	while (f && fscanf(f, "%32s%*[^\n]", hex) == 1) {
		for (k = 0; k < 16 && sscanf(hex + 2 * k, "%2x", &x) == 1; k++)
			a[k] = (uint8_t)x;
		if (k == 16 && strlen(hex) == 32)
			put(e, a);
	}
	if (f)
		fclose(f);
}

/* The cache entry of netns, read (again) through pid when missing or older
 * than the TTL (a second, when it could not be read); NULL when it is not
 * known. */
static const struct ns_addrs *entry(uint32_t netns, uint32_t pid, uint64_t now)
{
	struct ns_addrs *e = NULL, fresh;
	int i, oldest = 0;

	for (i = 0; i < n_tab; i++) {
		if (tab[i].netns == netns) {
			e = &tab[i];
			break;
		}
		if (tab[i].read_ns < tab[oldest].read_ns)
			oldest = i;
	}
	if (e && now - e->read_ns < (e->known ? ZS_NETNS_ADDRS_TTL_NS : 1000000000ull))
		return e->known ? e : NULL;
	memset(&fresh, 0, sizeof(fresh));
	fresh.netns = netns;
	fresh.read_ns = now;
	/* pid must still be in netns (its number may be another process's now);
	 * else the agent, if it is in netns */
	if (!pid || zs_proc_netns(root, pid) != netns) {
		pid = (uint32_t)getpid();
		if (zs_proc_netns(root, pid) != netns)
			pid = 0;
	}
	if (pid && read_v4(&fresh, pid) == 0) {
		read_v6(&fresh, pid);
		fresh.known = 1;
	} else if (e && e->known) {
		/* what was read before is still the best guess; try again in a second */
		e->read_ns = now - ZS_NETNS_ADDRS_TTL_NS + 1000000000ull;
		return e;
	}
	if (!e)
		e = n_tab < ZS_NETNS_ADDRS_NS ? &tab[n_tab++] : &tab[oldest];
	*e = fresh;
	return e->known ? e : NULL;
}

int zs_netns_addr_is_local(uint32_t netns, uint32_t pid, const uint8_t addr[16], uint64_t now_ns)
{
	const struct ns_addrs *e;
	int i;

	if (is_loopback(addr))
		return 1;
	e = entry(netns, pid, now_ns);
	if (!e)
		return -1;
	for (i = 0; i < e->n; i++)
		if (!memcmp(e->addr[i], addr, 16))
			return 1;
	return 0;
}
