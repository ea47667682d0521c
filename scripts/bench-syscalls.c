// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a process pays per call while the agent is loaded, whether or not it
 * is traced: a syscall that moves nothing (getppid), a one-byte write to
 * /dev/null, and a TLS library call the agent's uprobes watch
 * (SSL_write on an SSL object never set to connect or accept: it fails at
 * once, past the entry of the internal write function; libssl is dlopen'ed,
 * so no OpenSSL headers are needed), the same with GnuTLS
 * (gnutls_record_send on a session before its handshake). Then what a traced HTTP exchange costs
 * the app: both ends of a keep-alive loopback connection in this one thread
 * (the client writes a request, the server reads it and answers with a
 * writev of nginx's response headers and a write of the body, the client
 * reads it), so no scheduling between threads blurs the figure; and the same
 * for another protocol than HTTP (a Redis PING and its +PONG), whose client
 * connection the injector lets go after its first exchange. Prints ns per
 * call or exchange; scripts/bench-syscalls.sh runs it with and without
 * agents, interleaved. An argument sets the calls per loop (2,000,000; the
 * exchanges are a twentieth): tests/kernels/run.sh (ZS_BENCH) runs it in an
 * emulated VM with fewer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* ns per exchange over loopback, both ends here (http: nginx's request and
 * response, else a Redis PING and +PONG); -1 on a failure. */
static double exchange_ns(int n, int http)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0), c = -1, s = -1, one = 1, i, rl, hl, bl, got;
	char req[128], hdr[512], body[612], buf[16384];
	double t0 = 0, r = -1;

	memset(body, 'x', sizeof(body));
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&a, &al))
		goto out;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) ||
	    (s = accept(ls, NULL, NULL)) < 0)
		goto out;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rl = snprintf(req, sizeof(req), "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
		      ntohs(a.sin_port));
	hl = snprintf(hdr, sizeof(hdr),
		      "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
		      "Date: Mon, 30 Nov 2026 21:00:00 GMT\r\nContent-Type: text/html\r\n"
		      "Content-Length: %zu\r\nLast-Modified: Mon, 30 Nov 2026 20:00:00 GMT\r\n"
		      "Connection: keep-alive\r\nETag: \"6560a0f0-264\"\r\n"
		      "Accept-Ranges: bytes\r\n\r\n",
		      sizeof(body));
	bl = (int)sizeof(body);
	if (!http) {
		rl = snprintf(req, sizeof(req), "*1\r\n$4\r\nPING\r\n");
		hl = snprintf(hdr, sizeof(hdr), "+PONG\r\n");
		bl = 0;
	}
	for (i = -n / 10; i < n; i++) { /* the first tenth warms up */
		struct iovec v = { hdr, (size_t)hl };

		if (i == 0)
			t0 = now_ns();
		if (write(c, req, rl) != rl || read(s, buf, sizeof(buf)) < rl ||
		    writev(s, &v, 1) != hl || (bl && write(s, body, bl) != bl))
			goto out;
		for (got = 0; got < hl + bl;) {
			int k = read(c, buf, sizeof(buf));

			if (k <= 0)
				goto out;
			got += k;
		}
	}
	r = (now_ns() - t0) / n;
out:
	if (s >= 0)
		close(s);
	if (c >= 0)
		close(c);
	if (ls >= 0)
		close(ls);
	return r;
}

int main(int argc, char **argv)
{
	int (*ssl_write)(void *, const void *, int) = NULL;
	long (*gnutls_send)(void *, const void *, size_t) = NULL;
	int (*gnutls_init)(void **, unsigned int) = NULL;
	void (*err_clear)(void) = NULL;
	void *lib = dlopen("libssl.so.3", RTLD_NOW), *ssl = NULL, *session = NULL;
	void *gnutls = dlopen("libgnutls.so.30", RTLD_NOW);
	int fd = open("/dev/null", O_WRONLY), n = argc > 1 ? atoi(argv[1]) : 2000000, i;
	char b[1] = { 0 };
	double t0, g, w, s = -1, gs = -1;

	if (fd < 0 || n < 20) {
		perror("/dev/null");
		return 1;
	}
	if (lib) {
		void *(*method)(void) = (void *(*)(void))dlsym(lib, "TLS_method");
		void *(*ctx_new)(void *) = (void *(*)(void *))dlsym(lib, "SSL_CTX_new");
		void *(*ssl_new)(void *) = (void *(*)(void *))dlsym(lib, "SSL_new");
		void *ctx = method && ctx_new ? ctx_new(method()) : NULL;

		ssl = ctx && ssl_new ? ssl_new(ctx) : NULL;
		ssl_write = (int (*)(void *, const void *, int))dlsym(lib, "SSL_write");
		err_clear = (void (*)(void))dlsym(lib, "ERR_clear_error");
	}
	if (gnutls) {
		gnutls_init = (int (*)(void **, unsigned int))dlsym(gnutls, "gnutls_init");
		gnutls_send =
			(long (*)(void *, const void *, size_t))dlsym(gnutls, "gnutls_record_send");
		if (gnutls_init && gnutls_init(&session, 2 /* GNUTLS_CLIENT */) != 0)
			session = NULL;
	}
	t0 = now_ns();
	for (i = 0; i < n; i++)
		syscall(SYS_getppid);
	g = (now_ns() - t0) / n;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (write(fd, b, 1) != 1)
			return 1;
	w = (now_ns() - t0) / n;
	if (ssl && ssl_write && err_clear) {
		t0 = now_ns();
		for (i = 0; i < n / 20; i++) {
			if (ssl_write(ssl, b, 1) > 0)
				return 1;
			err_clear(); /* "uninitialized": one error each */
		}
		s = (now_ns() - t0) / (n / 20);
	}
	if (session && gnutls_send) {
		t0 = now_ns();
		for (i = 0; i < n / 20; i++)
			if (gnutls_send(session, b, 1) > 0)
				return 1;
		gs = (now_ns() - t0) / (n / 20);
	}
	printf("getppid %.0f ns, write to /dev/null %.0f ns, SSL_write failing at once %.0f ns, "
	       "gnutls_record_send failing at once %.0f ns, HTTP exchange %.0f ns, "
	       "Redis PING exchange %.0f ns\n",
	       g, w, s, gs, exchange_ns(n / 20, 1), exchange_ns(n / 20, 0));
	return 0;
}
