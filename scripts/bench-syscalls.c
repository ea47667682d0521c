// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a process pays per call while the agent is loaded, whether or not it
 * is traced: a syscall that moves nothing (getppid), a one-byte write to
 * /dev/null, and a TLS library call the agent's uprobes watch
 * (SSL_write(NULL, buf, -1), which returns at once; libssl is dlopen'ed, so
 * no OpenSSL headers are needed). Prints ns per call; scripts/bench-syscalls.sh
 * runs it with and without agents, interleaved.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(void)
{
	int (*ssl_write)(void *, const void *, int) = NULL;
	void *lib = dlopen("libssl.so.3", RTLD_NOW);
	int fd = open("/dev/null", O_WRONLY), n = 2000000, i;
	char b[1] = { 0 };
	double t0, g, w, s = -1;

	if (fd < 0) {
		perror("/dev/null");
		return 1;
	}
	if (lib)
		ssl_write = (int (*)(void *, const void *, int))dlsym(lib, "SSL_write");
	t0 = now_ns();
	for (i = 0; i < n; i++)
		syscall(SYS_getppid);
	g = (now_ns() - t0) / n;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (write(fd, b, 1) != 1)
			return 1;
	w = (now_ns() - t0) / n;
	if (ssl_write) {
		t0 = now_ns();
		for (i = 0; i < n / 20; i++)
			ssl_write(NULL, b, -1);
		s = (now_ns() - t0) / (n / 20);
	}
	printf("getppid %.0f ns, write to /dev/null %.0f ns, SSL_write returning at once %.0f ns\n",
	       g, w, s);
	return 0;
}
