// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Listening sockets: from events, and from a /proc made here (net/tcp, fds). */
#include "listeners.h"
#include "netns_addrs.h"
#include "zs_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void v4(uint8_t a[16], int x, int y, int z, int w)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = (uint8_t)x;
	a[13] = (uint8_t)y;
	a[14] = (uint8_t)z;
	a[15] = (uint8_t)w;
}

static struct zs_conn_event listen_ev(int x, int y, int z, int w, uint16_t port, uint32_t netns,
				      uint32_t pid)
{
	struct zs_conn_event ev;

	memset(&ev, 0, sizeof(ev));
	v4(ev.laddr, x, y, z, w);
	ev.lport = port;
	ev.netns = netns;
	ev.hdr.pid = pid;
	return ev;
}

static void events(void)
{
	struct zs_conn_event a = listen_ev(0, 0, 0, 0, 8080, 1, 100),
			     b = listen_ev(10, 0, 0, 2, 8080, 2, 200),
			     c = listen_ev(0, 0, 0, 0, 9090, 3, 300),
			     d = listen_ev(0, 0, 0, 0, 9090, 4, 400);
	uint8_t lo[16], other[16];

	v4(lo, 127, 0, 0, 1);
	v4(other, 10, 0, 0, 2);
	/* no namespace's addresses known: the client's namespace is preferred */
	zs_netns_addrs_root("/nonexistent");
	zs_netns_addrs_clear();
	zs_listeners_clear();
	zs_listeners_on_event(&a, 1);
	zs_listeners_on_event(&b, 1);
	CHECK(zs_listeners_pid(lo, 8080, 1, 0, 0) == 100, "wildcard in the client's netns");
	CHECK(zs_listeners_pid(other, 8080, 1, 0, 0) == 100, "same netns preferred");
	CHECK(zs_listeners_pid(other, 8080, 9, 0, 0) == 0, "two candidates elsewhere: ambiguous");
	CHECK(zs_listeners_pid(lo, 8081, 1, 0, 0) == 0, "other port");
	zs_listeners_on_event(&a, 0);
	CHECK(zs_listeners_pid(other, 8080, 9, 0, 0) == 200, "after the wildcard one closed");
	CHECK(zs_listeners_pid(lo, 8080, 9, 0, 0) == 0, "specific address does not match loopback");
	zs_listeners_on_event(&c, 1);
	zs_listeners_on_event(&d, 1);
	CHECK(zs_listeners_pid(other, 9090, 7, 0, 0) == 0,
	      "two processes, neither local: no guess");
	CHECK(zs_listeners_pid(lo, 9090, 7, 0, 0) == 0, "loopback stays in the client's namespace");
	CHECK(zs_listeners_pid(lo, 9090, 4, 0, 0) == 400, "the local one");
	zs_listeners_clear();
	CHECK(zs_listeners_pid(lo, 9090, 4, 0, 0) == 0, "cleared");
}

/* Writes a /proc/net/tcp{,6}-style file: header, then the lines given. */
static void write_table(const char *path, const char *lines)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		CHECK(0, "fopen");
		return;
	}
	fprintf(f,
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   "
		"uid  timeout inode\n%s",
		lines);
	fclose(f);
}

/* A process of the fake /proc: its network namespace and one socket fd. */
static void fake_proc(const char *dir, int pid, unsigned long netns, int fd, unsigned long ino)
{
	char p[512], l[64];

	snprintf(p, sizeof(p), "mkdir -p %s/%d/fd %s/%d/ns", dir, pid, dir, pid);
	CHECK(system(p) == 0, "mkdir");
	snprintf(p, sizeof(p), "%s/%d/ns/net", dir, pid);
	snprintf(l, sizeof(l), "net:[%lu]", netns);
	CHECK(symlink(l, p) == 0 || errno == EEXIST, "ns link");
	snprintf(p, sizeof(p), "%s/%d/fd/%d", dir, pid, fd);
	snprintf(l, sizeof(l), "socket:[%lu]", ino);
	CHECK(symlink(l, p) == 0, "fd link");
}

static void scan(void)
{
	char dir[] = "/tmp/zs-proc-XXXXXX", p[512];
	uint8_t lo[16], any6[16] = { 0 };
	const uint32_t host = 4026531840u, pod = 4026532999u;
	int n_netns;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	/* the host's namespace, read through process 4242: a listener on
	 * 127.0.0.1:8080 (4242's), an established socket, a v6 wildcard on 80
	 * (77's; 77 has no net/ of its own here: one process's tables are read
	 * per namespace) */
	fake_proc(dir, 4242, host, 3, 5555);
	fake_proc(dir, 77, host, 9, 7777);
	fake_proc(dir, 77, host, 10, 6666);
	snprintf(p, sizeof(p), "mkdir -p %s/4242/net %s/900/net", dir, dir);
	CHECK(system(p) == 0, "mkdir");
	snprintf(p, sizeof(p), "%s/4242/net/tcp", dir);
	write_table(p,
		    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 "
		    "    0        0 5555 1 0000000000000000 100 0 0 10 0\n"
		    "   1: 0100007F:1F91 0100007F:D431 01 00000000:00000000 00:00000000 00000000 "
		    "    0        0 6666 1 0000000000000000 100 0 0 10 0\n");
	snprintf(p, sizeof(p), "%s/4242/net/tcp6", dir);
	write_table(p, "   0: 00000000000000000000000000000000:0050 "
		       "00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 "
		       "00000000     0        0 7777 1 0 100 0 0 10 0\n");
	/* a pod's namespace (process 900, no IPv6): 127.0.0.1:8080 as well */
	fake_proc(dir, 900, pod, 4, 8888);
	snprintf(p, sizeof(p), "%s/900/net/tcp", dir);
	write_table(p,
		    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 "
		    "    0        0 8888 1 0000000000000000 100 0 0 10 0\n");
	zs_listeners_clear();
	CHECK(zs_listeners_scan(dir, &n_netns) == 3 && n_netns == 2,
	      "three listeners in two namespaces");
	v4(lo, 127, 0, 0, 1);
	CHECK(zs_listeners_pid(lo, 8080, host, 0, 0) == 4242, "v4 listener from /proc");
	CHECK(zs_listeners_pid(lo, 8080, pod, 0, 0) == 900,
	      "the pod's own, in the pod's namespace");
	CHECK(zs_listeners_pid(lo, 8081, host, 0, 0) == 0, "an established socket is no listener");
	CHECK(zs_listeners_pid(any6, 80, host, 0, 0) == 77, "v6 wildcard listener");
	CHECK(zs_listeners_pid(any6, 80, pod, 0, 0) == 77, "the only one elsewhere");
	zs_listeners_clear();
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	CHECK(system(p) == 0, "cleanup");
}

/* A fake process's fib_trie (its namespace's IPv4 addresses a.b.c.d), in
 * the shape the kernel prints it. */
static void fake_fib(const char *dir, int pid, const char *addrs)
{
	char p[512], a[64];
	const char *s = addrs;
	FILE *f;
	int k;

	snprintf(p, sizeof(p), "mkdir -p %s/%d/net", dir, pid);
	CHECK(system(p) == 0, "mkdir");
	snprintf(p, sizeof(p), "%s/%d/net/fib_trie", dir, pid);
	f = fopen(p, "w");
	if (!f) {
		CHECK(0, "fopen");
		return;
	}
	fprintf(f,
		"Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n"
		"     +-- 127.0.0.0/8 2 0 2\n        |-- 127.0.0.1\n           /32 host LOCAL\n");
	while (sscanf(s, "%63s%n", a, &k) == 1) {
		/* a link route and a broadcast first, as for an address's subnet */
		fprintf(f,
			"        |-- %s\n           /24 link UNICAST\n           /32 host LOCAL\n"
			"        |-- 10.255.255.255\n           /32 link BROADCAST\n",
			a);
		s += k;
	}
	fprintf(f, "Local:\n  +-- 0.0.0.0/0 3 0 5\n");
	fclose(f);
}

/* Which namespace's listener a connection meant, by the addresses of each
 * namespace: a pod calling another pod on a port they all listen on; the
 * host calling a remote server on a port a local process listens on. */
static void addresses(void)
{
	char dir[] = "/tmp/zs-proc-XXXXXX", p[512];
	struct zs_conn_event host = listen_ev(0, 0, 0, 0, 8080, 1, 10),
			     pod2 = listen_ev(0, 0, 0, 0, 8080, 2, 20),
			     pod3 = listen_ev(0, 0, 0, 0, 8080, 3, 30);
	uint8_t lo[16], h[16], a2[16], a3[16], a9[16], remote[16], v6[16];
	const uint64_t s = 1000000000ull;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	fake_proc(dir, 10, 1, 3, 1001);
	fake_proc(dir, 20, 2, 3, 1002);
	fake_proc(dir, 30, 3, 3, 1003);
	fake_proc(dir, 40, 2, 3, 1004); /* a client in pod 2 */
	fake_fib(dir, 10, "10.0.0.1 192.168.1.5");
	fake_fib(dir, 20, "10.0.0.2");
	fake_fib(dir, 30, "10.0.0.3");
	snprintf(p, sizeof(p), "%s/10/net/if_inet6", dir);
	f = fopen(p, "w");
	if (f) {
		fprintf(f, "00000000000000000000000000000001 01 80 10 80       lo\n"
			   "fd000000000000000000000000000005 04 40 00 82     eth0\n");
		fclose(f);
	}
	zs_netns_addrs_root(dir);
	zs_netns_addrs_clear();
	zs_listeners_clear();
	zs_listeners_on_event(&host, 1);
	zs_listeners_on_event(&pod2, 1);
	zs_listeners_on_event(&pod3, 1);
	v4(lo, 127, 0, 0, 1);
	v4(h, 192, 168, 1, 5);
	v4(a2, 10, 0, 0, 2);
	v4(a3, 10, 0, 0, 3);
	v4(a9, 10, 0, 0, 9);
	v4(remote, 192, 0, 2, 9);
	memset(v6, 0, 16);
	v6[0] = 0xfd;
	v6[15] = 5;
	CHECK(zs_listeners_pid(lo, 8080, 1, 10, s) == 10, "loopback: the host's own");
	CHECK(zs_listeners_pid(h, 8080, 1, 10, s) == 10, "the host's address: its own");
	CHECK(zs_listeners_pid(v6, 8080, 1, 10, s) == 10, "the host's IPv6 address: its own");
	CHECK(zs_listeners_pid(a2, 8080, 1, 10, s) == 20, "a pod's address: that pod's");
	CHECK(zs_listeners_pid(a3, 8080, 1, 10, s) == 30, "another pod's address: that pod's");
	CHECK(zs_listeners_pid(remote, 8080, 1, 10, s) == 0,
	      "a remote server is not named after a local listener on its port");
	CHECK(zs_listeners_pid(lo, 8080, 2, 40, s) == 20, "loopback in a pod: the pod's");
	CHECK(zs_listeners_pid(h, 8080, 2, 40, s) == 10, "a pod calling the host");
	CHECK(zs_listeners_pid(a3, 8080, 2, 40, s) == 30, "a pod calling a pod");
	CHECK(zs_listeners_pid(a2, 8080, 7, 0, s) == 20, "a client namespace not known");
	CHECK(zs_netns_addr_is_local(7, 0, a2, s) == -1, "not known");
	/* what was read holds for the TTL, and is read again after it */
	fake_fib(dir, 20, "10.0.0.2 10.0.0.9");
	CHECK(zs_listeners_pid(a9, 8080, 1, 10, 2 * s) == 0, "cached: 10.0.0.9 is nobody's yet");
	CHECK(zs_listeners_pid(a9, 8080, 1, 10, 2 * s + ZS_NETNS_ADDRS_TTL_NS) == 20,
	      "read again after the TTL");
	/* the process it was read through is gone: the addresses read stay */
	snprintf(p, sizeof(p), "rm -rf %s/20", dir);
	CHECK(system(p) == 0, "rm");
	CHECK(zs_listeners_pid(a9, 8080, 1, 10, 3 * s + 2 * ZS_NETNS_ADDRS_TTL_NS) == 20,
	      "the last addresses read stay when no process can be read");
	zs_listeners_clear();
	zs_netns_addrs_clear();
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	CHECK(system(p) == 0, "cleanup");
}

int main(void)
{
	events();
	scan();
	addresses();
	return zs_test_done("listeners");
}
