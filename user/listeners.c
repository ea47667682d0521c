// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "listeners.h"

#include "metrics.h"
#include "netns_addrs.h"
#include "procfs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct listener {
	uint8_t addr[16];
	uint16_t port;
	uint32_t netns;
	uint32_t pid;
};

/* Network namespaces whose listeners the start-up scan reads at most */
#define ZS_LISTENERS_NETNS_MAX 4096

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

uint32_t zs_listeners_pid(const uint8_t addr[16], uint16_t port, uint32_t netns, uint32_t pid,
			  uint64_t now_ns)
{
	/* is addr the client's namespace's own (then so is the server), or
	 * another's (the client's namespace's listeners are not meant)? Asked
	 * once a listener could be meant: 2 until then */
	int here = 2, i, several = 0;
	uint32_t found = 0, local = 0;

	for (i = 0; i < n; i++) {
		const struct listener *l = &tab[i];

		if (l->port != port || (!is_any(l->addr) && memcmp(l->addr, addr, 16)))
			continue;
		if (here == 2)
			here = zs_netns_addr_is_local(netns, pid, addr, now_ns);
		if (l->netns == netns) {
			if (here != 0 && !local)
				local = l->pid;
			continue;
		}
		/* a wildcard listener elsewhere: where addr is an address */
		if (here == 1 ||
		    (is_any(l->addr) && !zs_netns_addr_is_local(l->netns, l->pid, addr, now_ns)))
			continue;
		if (found && found != l->pid)
			several = 1;
		found = l->pid;
	}
	if (local)
		return local;
	return several ? 0 : found;
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
	uint32_t netns;
	unsigned long inode;
};

/* zs_listeners_scan's walk: the listeners found, then their owners */
struct scan {
	const char *proc_root;
	struct found_listener *found;
	int n_found;
	uint32_t pid, netns;
	uint64_t self; /* the agent's network namespace */
};

static void keep(struct scan *sc, const struct found_listener *l)
{
	if (sc->n_found == ZS_LISTENERS_MAX)
		zs_count(listeners_untracked);
	else
		sc->found[sc->n_found++] = *l;
}

/* The listening TCP sockets of the calling thread's network namespace, of
 * one address family, asked of the kernel (sock_diag: it walks the listening
 * hash only, where /proc/net/tcp walks every namespace's connections too,
 * ~2 ms a read on this project's VM). */
static int diag_family(struct scan *sc, int family)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} q = {
		.nlh = { .nlmsg_len = sizeof(q),
			 .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.req = { .sdiag_family = (uint8_t)family,
			 .sdiag_protocol = IPPROTO_TCP,
			 .idiag_states = 1u << 10 /* TCP_LISTEN */ },
	};
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	long buf[32768 / sizeof(long)]; /* a dump message at most 32 KiB */
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG), err = -EIO;
	ssize_t len;

	if (fd < 0)
		return -errno;
	if (sendto(fd, &q, sizeof(q), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0) {
		err = -errno;
		goto out;
	}
	while ((len = recv(fd, buf, sizeof(buf), 0)) > 0) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

		for (; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			struct found_listener l = { .netns = sc->netns };

			if (h->nlmsg_type == NLMSG_DONE) {
				err = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				err = e->error ? e->error : -EIO;
				goto out;
			}
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				continue;
			if (m->idiag_family == AF_INET) {
				l.addr[10] = l.addr[11] = 0xff;
				memcpy(l.addr + 12, m->id.idiag_src, 4);
			} else {
				memcpy(l.addr, m->id.idiag_src, 16);
			}
			l.port = ntohs(m->id.idiag_sport);
			l.inode = m->idiag_inode;
			keep(sc, &l);
		}
	}
	if (len < 0)
		err = -errno;
out:
	close(fd);
	return err;
}

static int diag_here(void *arg)
{
	struct scan *sc = arg;
	int err = diag_family(sc, AF_INET);

	if (!err)
		err = diag_family(sc, AF_INET6);
	return err == -ENOENT || err == -EAFNOSUPPORT ? 0 : err; /* no IPv6 */
}

/* Reads the listening sockets of process pid's network namespace: asked of
 * the kernel from inside it, else (setns refused, no sock_diag) from its
 * proc_root/PID/net/tcp{,6}. Nonzero when the process is gone. */
static int read_netns(uint32_t pid, uint64_t netns, void *arg)
{
	struct scan *sc = arg;
	char path[PATH_MAX], line[512];
	int v6, before = sc->n_found;

	sc->netns = (uint32_t)netns;
	if ((netns == sc->self ? diag_here(sc)
			       : zs_proc_in_netns(sc->proc_root, pid, diag_here, sc)) == 0)
		return 0;
	sc->n_found = before;
	for (v6 = 0; v6 < 2; v6++) {
		struct found_listener l;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%u/net/%s", sc->proc_root, pid,
			 v6 ? "tcp6" : "tcp");
		f = fopen(path, "re");
		if (!f) {
			if (!v6)
				return -1;
			continue; /* no IPv6 */
		}
		while (fgets(line, sizeof(line), f)) {
			if (parse_line(line, v6, l.addr, &l.port, &l.inode))
				continue;
			l.netns = (uint32_t)netns;
			keep(sc, &l);
		}
		fclose(f);
	}
	return 0;
}

static int by_inode(const void *a, const void *b)
{
	unsigned long x = ((const struct found_listener *)a)->inode,
		      y = ((const struct found_listener *)b)->inode;

	return x < y ? -1 : x > y;
}

/* A socket process sc->pid holds: if it is one of the listeners found, the
 * process owns that listener. */
static void owns(unsigned long ino, void *arg)
{
	const struct scan *sc = arg;
	struct found_listener key = { .inode = ino };
	const struct found_listener *l =
		bsearch(&key, sc->found, (size_t)sc->n_found, sizeof(key), by_inode);

	if (l)
		add(l->addr, l->port, l->netns, sc->pid);
}

/* Process pid's sockets, each looked up among the listeners found. */
static int owner_walk(uint32_t pid, void *arg)
{
	struct scan *sc = arg;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%u/fd", sc->proc_root, pid);
	sc->pid = pid;
	zs_proc_sockets(path, owns, sc);
	return 0;
}

int zs_listeners_scan(const char *proc_root, int *n_netns)
{
	struct scan sc = { .proc_root = proc_root,
			   .found = malloc(ZS_LISTENERS_MAX * sizeof(*sc.found)),
			   .self = zs_proc_netns(proc_root, (uint32_t)getpid()) };

	zs_netns_addrs_root(proc_root);
	*n_netns = 0;
	if (!sc.found)
		return 0;
	/* each network namespace's tables once, read through a process in it */
	*n_netns = zs_proc_each_netns(proc_root, ZS_LISTENERS_NETNS_MAX, read_netns, &sc);
	qsort(sc.found, (size_t)sc.n_found, sizeof(*sc.found), by_inode);
	/* who owns them: a walk of every process's fds, once */
	if (sc.n_found)
		zs_proc_each(proc_root, owner_walk, &sc);
	free(sc.found);
	return sc.n_found;
}

void zs_listeners_clear(void)
{
	n = 0;
}
