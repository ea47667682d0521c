// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Listening sockets: from events, and from a /proc made here (net/tcp, fds). */
#include "listeners.h"
#include "zs_test.h"

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
	zs_listeners_clear();
	zs_listeners_on_event(&a, 1);
	zs_listeners_on_event(&b, 1);
	CHECK(zs_listeners_pid(lo, 8080, 1) == 100, "wildcard in the client's netns");
	CHECK(zs_listeners_pid(other, 8080, 1) == 100, "same netns preferred");
	CHECK(zs_listeners_pid(other, 8080, 9) == 0, "two candidates elsewhere: ambiguous");
	CHECK(zs_listeners_pid(lo, 8081, 1) == 0, "other port");
	zs_listeners_on_event(&a, 0);
	CHECK(zs_listeners_pid(other, 8080, 9) == 200, "after the wildcard one closed");
	CHECK(zs_listeners_pid(lo, 8080, 9) == 0, "specific address does not match loopback");
	zs_listeners_on_event(&c, 1);
	zs_listeners_on_event(&d, 1);
	CHECK(zs_listeners_pid(lo, 9090, 7) == 0, "two processes, neither local: no guess");
	CHECK(zs_listeners_pid(lo, 9090, 4) == 400, "the local one");
	zs_listeners_clear();
	CHECK(zs_listeners_pid(lo, 9090, 4) == 0, "cleared");
}

static void scan(void)
{
	char dir[] = "/tmp/zs-proc-XXXXXX", p[512];
	uint8_t lo[16], any6[16] = { 0 };
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(p, sizeof(p), "mkdir -p %s/net %s/self/ns %s/4242/fd %s/77/fd", dir, dir, dir,
		 dir);
	CHECK(system(p) == 0, "mkdir");
	snprintf(p, sizeof(p), "%s/net/tcp", dir);
	f = fopen(p, "w");
	fprintf(f,
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid "
		" "
		"timeout inode\n"
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
		"       0 5555 1 0000000000000000 100 0 0 10 0\n"
		"   1: 0100007F:1F91 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0 "
		"       0 6666 1 0000000000000000 100 0 0 10 0\n");
	fclose(f);
	snprintf(p, sizeof(p), "%s/net/tcp6", dir);
	f = fopen(p, "w");
	fprintf(f,
		"  sl  local_address                         remote_address                        "
		"st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 "
		"0A 00000000:00000000 00:00000000 00000000     0        0 7777 1 0 100 0 0 10 0\n");
	fclose(f);
	snprintf(p, sizeof(p), "%s/self/ns/net", dir);
	CHECK(symlink("net:[4026531840]", p) == 0, "ns link");
	snprintf(p, sizeof(p), "%s/4242/fd/3", dir);
	CHECK(symlink("socket:[5555]", p) == 0, "fd link");
	snprintf(p, sizeof(p), "%s/77/fd/9", dir);
	CHECK(symlink("socket:[7777]", p) == 0, "fd link");
	snprintf(p, sizeof(p), "%s/77/fd/10", dir);
	CHECK(symlink("socket:[6666]", p) == 0, "fd link");
	zs_listeners_clear();
	zs_listeners_scan(dir);
	v4(lo, 127, 0, 0, 1);
	CHECK(zs_listeners_pid(lo, 8080, 4026531840u) == 4242, "v4 listener from /proc");
	CHECK(zs_listeners_pid(lo, 8081, 4026531840u) == 0, "an established socket is no listener");
	CHECK(zs_listeners_pid(any6, 80, 4026531840u) == 77, "v6 wildcard listener");
	zs_listeners_clear();
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	CHECK(system(p) == 0, "cleanup");
}

int main(void)
{
	events();
	scan();
	return zs_test_done("listeners");
}
