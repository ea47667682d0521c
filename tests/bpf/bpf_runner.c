// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Runs the bpf/tests programs with BPF_PROG_RUN: the classification,
 * header-end scan, HTTP verdict and copy budget logic of bpf/lib, executed by
 * the kernel, and the traceparent scan of trace_ctx.bpf.h.
 * usage: bpf_runner OBJECT... (every build/bpf/tests object)
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/zs_test.h"
#include "../../bpf/tests/test_ctx.h"

static struct bpf_object *obj;

static int run(const char *prog_name, void *ctx, size_t size)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, prog_name);
	/* SEC("syscall") programs write their ctx back into ctx_in (ctx_out must
	 * be unset, or the kernel answers EINVAL). */
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = ctx, .ctx_size_in = size);
	int err;

	if (!p) {
		CHECK(0, "program %s not found", prog_name);
		return -1;
	}
	err = bpf_prog_test_run_opts(bpf_program__fd(p), &o);
	CHECK(err == 0, "%s: test run failed: %d", prog_name, err);
	return err;
}

static unsigned classify(const char *s, unsigned n)
{
	struct zs_t_classify c = { 0 };

	memcpy(c.buf, s, n < ZS_T_CLASSIFY_LEN ? n : ZS_T_CLASSIFY_LEN);
	c.n = n;
	run("test_classify", &c, sizeof(c));
	return c.result;
}

static void test_classify(void)
{
	static const struct {
		const char *s;
		unsigned n;
		unsigned want;
	} cases[] = {
		{ "GET / HT", 8, ZS_START_REQUEST },
		{ "POST /a ", 8, ZS_START_REQUEST },
		{ "PUT /a H", 8, ZS_START_REQUEST },
		{ "PATCH /a", 8, ZS_START_REQUEST },
		{ "DELETE /", 8, ZS_START_REQUEST },
		{ "HEAD / H", 8, ZS_START_REQUEST },
		{ "OPTIONS ", 8, ZS_START_REQUEST },
		{ "CONNECT ", 8, ZS_START_REQUEST },
		{ "TRACE / ", 8, ZS_START_REQUEST },
		{ "HTTP/1.1", 8, ZS_START_RESPONSE },
		{ "HTTP/1.0", 8, ZS_START_RESPONSE },
		{ "G", 1, ZS_START_REQUEST },	/* one byte per send() */
		{ "HTT", 3, ZS_START_REQUEST }, /* could still be HEAD... no: */
		{ "GETX / H", 8, ZS_START_NONE },
		{ "get / HT", 8, ZS_START_NONE },
		{ "PRI * HT", 8, ZS_START_NONE }, /* HTTP/2 preface */
		{ "HTTP/2 2", 8, ZS_START_NONE },
		{ "\x16\x03\x01\x02\x00\x01\x00\x01", 8, ZS_START_NONE }, /* TLS ClientHello */
		{ "", 0, ZS_START_NONE },
		{ "POS", 8, ZS_START_NONE },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got = classify(cases[i].s, cases[i].n);
		unsigned want = cases[i].want;

		/* "HTT" is a prefix of "HTTP/1." (response), not of "HEAD ". */
		if (strcmp(cases[i].s, "HTT") == 0)
			want = ZS_START_RESPONSE;
		CHECK(got == want, "classify('%.8s', %u) = %u, want %u", cases[i].s, cases[i].n,
		      got, want);
	}
}

/* A connection's first bytes that are no HTTP: another protocol for good,
 * or TLS (which STARTTLS protocols greet before: those are opaque)? */
static void test_first_opaque(void)
{
	static const struct {
		const char *s;
		unsigned n;
		unsigned want;
	} cases[] = {
		{ "*1\r\n$4\r\n", 8, 1 },		/* Redis */
		{ "PRI * HT", 8, 1 },			/* HTTP/2 without TLS */
		{ "\0\0\0\x08\x04\xd2\x16\x2f", 8, 1 }, /* PostgreSQL SSLRequest */
		{ "STARTTLS", 8, 1 },
		{ "\x16\x03\x01\x02\x00\x01\x00\x01", 8, 0 }, /* ClientHello */
		{ "\x17\x03\x03\x00\x20\0\0\0", 8, 0 },	      /* application data */
		{ "\x15\x03\x03\x00\x02\x02\x28\0", 8, 0 },   /* alert */
		{ "\x14\x03\x03\x00\x01\x01\0\0", 8, 0 },     /* change cipher spec */
		{ "\x18\x03\x03\x00\x01\x01\0\0", 8, 0 },     /* heartbeat */
		{ "\x80\x2e\x01\x00\x02\0\0\0", 8, 0 },	      /* SSLv2-style hello */
		{ "\x16\x02\x01\x02\x00\x01\x00\x01", 8, 1 }, /* no version 3.x */
		{ "*", 1, 0 },				      /* too short to tell */
		{ "", 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct zs_t_classify c = { 0 };

		memcpy(c.buf, cases[i].s, cases[i].n);
		c.n = cases[i].n;
		run("test_classify", &c, sizeof(c));
		CHECK(c.opaque == cases[i].want, "first_is_opaque case %zu = %u, want %u", i,
		      c.opaque, cases[i].want);
	}
}

/* The header's length; also checks that the capture's two-byte look
 * (zs_proxy_maybe) lets every header through. *maybe: what it said. */
static unsigned proxy_hdr_maybe(const char *s, unsigned n, unsigned *maybe)
{
	struct zs_t_proxy c = { 0 };

	memcpy(c.buf, s, n);
	c.n = n;
	run("test_proxy_hdr", &c, sizeof(c));
	CHECK(!c.result || c.maybe, "a PROXY header (%u bytes) the first look would miss",
	      c.result);
	*maybe = c.maybe;
	return c.result;
}

static unsigned proxy_hdr(const char *s, unsigned n)
{
	unsigned maybe;

	return proxy_hdr_maybe(s, n, &maybe);
}

/* PROXY protocol headers a load balancer sends first: their lengths. */
static void test_proxy_hdr(void)
{
	const char *v1 = "PROXY TCP4 192.0.2.7 127.0.0.1 40001 8080\r\nGET / HTTP/1.1\r\n";
	const char *v1max = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	char v2[64] = "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c";
	char long_line[128];

	unsigned l1 = (unsigned)(strstr(v1, "\r\n") - v1) + 2;

	CHECK(proxy_hdr(v1, (unsigned)strlen(v1)) == l1, "v1: %u",
	      proxy_hdr(v1, (unsigned)strlen(v1)));
	CHECK(proxy_hdr(v1, l1 - 1) == 0, "v1 without its LF: %u", proxy_hdr(v1, l1 - 1));
	CHECK(proxy_hdr("PROXY UNKNOWN\r\n", 15) == 15, "v1 UNKNOWN");
	CHECK(strlen(v1max) == 107 && proxy_hdr(v1max, 107) == 107, "v1 at its longest: %u",
	      proxy_hdr(v1max, 107));
	memset(long_line, 'x', sizeof(long_line));
	memcpy(long_line, "PROXY ", 6);
	memcpy(long_line + 110, "\r\n", 2);
	CHECK(proxy_hdr(long_line, 120) == 0, "a line past 107 bytes is no header");
	CHECK(proxy_hdr("PROXZ TCP4 \r\n", 14) == 0, "not PROXY");
	CHECK(proxy_hdr("GET / HTTP/1.1\r\n", 16) == 0, "a request");
	CHECK(proxy_hdr(v2, 28) == 28, "v2 TCP4: %u", proxy_hdr(v2, 28));
	CHECK(proxy_hdr(v2, 16) == 28, "v2 longer than the bytes at hand: %u", proxy_hdr(v2, 16));
	v2[13] = 0x21;
	v2[14] = 0x01;
	v2[15] = 0x00; /* 256 bytes of addresses and TLVs */
	CHECK(proxy_hdr(v2, 28) == 272, "v2 length from its head: %u", proxy_hdr(v2, 28));
	v2[12] = 0x11; /* version 1 in a v2 head */
	CHECK(proxy_hdr(v2, 28) == 0, "v2 head with another version");
	v2[12] = 0x21;
	v2[7] = 'q';
	CHECK(proxy_hdr(v2, 28) == 0, "v2 signature broken");
	CHECK(proxy_hdr("\r\n\r\n", 4) == 0, "too short");
	/* what most first chunks start with: no look for a header */
	{
		static const char *plain[] = {
			"GET / HTTP/1.1\r\n",  "POST /a HTTP/1.1\r\n",
			"PUT /a HTTP/1.1\r\n", "PATCH /a HTTP/1.1\r\n",
			"HTTP/1.1 200 OK\r\n", "\x16\x03\x01\x02\x01\x01\x01\x02"
		};
		unsigned i, maybe;

		for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
			CHECK(proxy_hdr_maybe(plain[i], (unsigned)strlen(plain[i]), &maybe) == 0 &&
				      !maybe,
			      "%.5s: looked for a PROXY header", plain[i]);
	}
}

static void test_hdr_end(void)
{
	struct zs_t_scan c = { 0 };
	const char *a = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";

	memcpy(c.buf, a, strlen(a));
	c.n = (unsigned)strlen(a);
	run("test_hdr_end", &c, sizeof(c));
	CHECK(c.end_at == 26, "end_at %d", c.end_at);

	/* The terminator split across two chunks: state carried in rolling. */
	memset(&c, 0, sizeof(c));
	memcpy(c.buf, "GET / HTTP/1.1\r\n\r", 17);
	c.n = 17;
	run("test_hdr_end", &c, sizeof(c));
	CHECK(c.end_at == -1, "early end %d", c.end_at);
	memset(c.buf, 0, sizeof(c.buf));
	c.buf[0] = '\n';
	c.n = 1;
	run("test_hdr_end", &c, sizeof(c));
	CHECK(c.end_at == 0, "split terminator not found: %d", c.end_at);

	memset(&c, 0, sizeof(c));
	memcpy(c.buf, "GET / HTTP/1.1\n\n", 16);
	c.n = 16;
	run("test_hdr_end", &c, sizeof(c));
	CHECK(c.end_at == -1, "bare LF is not a CRLFCRLF: %d", c.end_at);
}

/* ---- header-block scan (bpf/lib/hdr_scan.bpf.h) ---- */

/* The classification the scan uses on bytes after a block, written out
 * again here: a request method or "HTTP/1." (a prefix, when the rest is
 * shorter than the token). */
static int ref_starts_message(const unsigned char *b, unsigned n)
{
	static const char *const tok[] = { "GET ",     "POST ",	   "PUT ",   "PATCH ", "DELETE ",
					   "OPTIONS ", "CONNECT ", "TRACE ", "HEAD ",  "HTTP/1." };

	if (n == 0)
		return 0;
	for (size_t t = 0; t < sizeof(tok) / sizeof(tok[0]); t++) {
		size_t tl = strlen(tok[t]), k;

		for (k = 0; k < tl && k < n && k < 8; k++)
			if (b[k] != (unsigned char)tok[t][k])
				break;
		if (k == tl || k == n || k == 8)
			return 1;
	}
	return 0;
}

struct ref_scan {
	unsigned found, blocks, from, cut;
};

/* A block ended at end: 1 when the scan is settled (as zs_block_ended). */
static int ref_block_ended(struct ref_scan *r, const unsigned char *b, unsigned n, unsigned end)
{
	r->found = 1;
	r->blocks++;
	r->from = end;
	if (end >= n)
		return 1;
	if (ref_starts_message(b + end, n - end))
		return 0;
	r->cut = end;
	return 1;
}

/* Byte at a time: a terminator begun in the previous chunk (per rolling),
 * then a response chunk that ends with its own terminator, else every
 * CRLFCRLF, leftmost first, none overlapping the one before. */
static struct ref_scan ref_hdr_scan(const unsigned char *b, unsigned n, unsigned rolling,
				    int is_response)
{
	struct ref_scan r = { 0 };
	unsigned p;

	for (p = 0; p < 3 && p < n; p++) {
		rolling = rolling << 8 | b[p];
		if (rolling == 0x0d0a0d0a) {
			if (ref_block_ended(&r, b, n, p + 1))
				return r;
			break;
		}
	}
	if (is_response && n >= 4 && !memcmp(b + n - 4, "\r\n\r\n", 4)) {
		r.found = 1;
		r.blocks++;
		return r;
	}
	for (p = r.from; p + 4 <= n; p++) {
		if (memcmp(b + p, "\r\n\r\n", 4))
			continue;
		if (ref_block_ended(&r, b, n, p + 4))
			return r;
		p += 3;
	}
	return r;
}

static int hdr_scan_case(const unsigned char *b, unsigned n, unsigned rolling, int is_response,
			 char *why, size_t why_len)
{
	struct zs_t_hscan h = { 0 };
	struct ref_scan r = ref_hdr_scan(b, n, rolling, is_response);
	unsigned want_roll = rolling;

	memcpy(h.buf, b, n);
	/* past the chunk, what an earlier one left: terminators, which must
	 * not count */
	for (unsigned k = n; k < ZS_T_HSCAN_MAX; k++)
		h.buf[k] = (unsigned char)"\r\n\r\nGET "[k % 8];
	h.n = n;
	h.rolling = rolling;
	h.is_response = (unsigned)is_response;
	if (run("test_hdr_scan", &h, sizeof(h)))
		return 0;
	for (unsigned k = n >= 4 ? n - 4 : 0; k < n; k++)
		want_roll = want_roll << 8 | b[k];
	if (h.found == r.found && h.blocks == r.blocks && h.from == r.from && h.cut == r.cut &&
	    h.rolling_out == want_roll)
		return 1;
	snprintf(why, why_len,
		 "n=%u rolling=%08x resp=%d: found %u/%u blocks %u/%u from %u/%u cut %u/%u "
		 "rolling %08x/%08x",
		 n, rolling, is_response, h.found, r.found, h.blocks, r.blocks, h.from, r.from,
		 h.cut, r.cut, h.rolling_out, want_roll);
	return 0;
}

static void test_hdr_scan(void)
{
	static const char *const cases[] = {
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODYBODY",
		"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
		"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nHost",
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcdHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n",
		"\r\n\r\n\r\n\r\n",
		"\r\n\r\r\n\r\n\n\r\n",
		"GET / HTTP/1.1\n\n",
		"",
	};
	char why[256];
	unsigned bad = 0, total = 0;
	unsigned char b[ZS_T_HSCAN_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int resp = 0; resp < 2; resp++) {
			total++;
			if (!hdr_scan_case((const unsigned char *)cases[i],
					   (unsigned)strlen(cases[i]), 0, resp, why, sizeof(why))) {
				CHECK(0, "case %zu: %s", i, why);
				bad++;
			}
		}
	/* A terminator begun in the previous chunk: 1, 2 or 3 of its bytes here. */
	CHECK(hdr_scan_case((const unsigned char *)"\nBODY", 5, 0x0a0d0a0d, 0, why, sizeof(why)),
	      "carry 1: %s", why);
	CHECK(hdr_scan_case((const unsigned char *)"\r\nGET / HTTP/1.1\r\n\r\n", 20, 0x0d0a0d0a, 0,
			    why, sizeof(why)),
	      "carry 2 then pipelined: %s", why);
	CHECK(hdr_scan_case((const unsigned char *)"\n\r\nX", 4, 0x0a0d0a0d, 0, why, sizeof(why)),
	      "carry 3: %s", why);
	{
		/* the terminator at each of 16 offsets (every position in a word) */
		for (unsigned off = 0; off < 16; off++) {
			unsigned n = 0;

			memcpy(b, "GET / HTTP/1.1\r\n", 16);
			n = 16;
			memset(b + n, 'a', off);
			n += off;
			memcpy(b + n, "\r\n\r\nbody-bytes", 14);
			n += 14;
			total++;
			if (!hdr_scan_case(b, n, 0, 0, why, sizeof(why))) {
				CHECK(0, "offset %u: %s", off, why);
				bad++;
			}
		}
	}
	/* random chunks over a small alphabet dense in CR, LF and method bytes */
	{
		static const char alpha[] = "\r\n\r\nGET HTTP/1.aX";
		unsigned seed = 12345;

		for (int t = 0; t < 3000; t++) {
			unsigned n, rolling;
			int resp;

			seed = seed * 1103515245u + 12345u;
			n = (seed >> 8) % ZS_T_HSCAN_MAX;
			for (unsigned k = 0; k < n; k++) {
				seed = seed * 1103515245u + 12345u;
				b[k] = (unsigned char)alpha[(seed >> 16) % (sizeof(alpha) - 1)];
			}
			seed = seed * 1103515245u + 12345u;
			rolling = (seed >> 4) & 3 ? 0 : (seed & 1 ? 0x0a0d0a0d : 0x0d0a0d0a);
			resp = (seed >> 9) & 1;
			total++;
			if (!hdr_scan_case(b, n, rolling, resp, why, sizeof(why))) {
				if (bad++ < 3)
					CHECK(0, "random chunk %d: %s", t, why);
			}
		}
	}
	CHECK(bad == 0, "%u of %u header-scan cases differ from the reference", bad, total);
}

static void test_verdict(void)
{
	struct zs_t_verdict v;
	int i;

	/* Seen from its first byte, not HTTP: decided at once. */
	memset(&v, 0, sizeof(v));
	v.st.role = ZS_ROLE_CLIENT;
	v.start = ZS_START_NONE;
	run("test_verdict", &v, sizeof(v));
	CHECK(v.report == 0 && v.st.http == ZS_HTTP_NO, "new non-HTTP conn: %u %u", v.report,
	      v.st.http);
	v.start = ZS_START_REQUEST;
	run("test_verdict", &v, sizeof(v));
	CHECK(v.report == 0, "a NO verdict is final");

	/* HTTP from the start. */
	memset(&v, 0, sizeof(v));
	v.st.role = ZS_ROLE_SERVER;
	v.start = ZS_START_REQUEST;
	run("test_verdict", &v, sizeof(v));
	CHECK(v.report == 1 && v.st.http == ZS_HTTP_YES, "HTTP conn");
	v.start = ZS_START_NONE;
	run("test_verdict", &v, sizeof(v));
	CHECK(v.report == 1, "body chunks of an HTTP conn are reported");

	/* Joined mid-stream (opened before the agent): a few chunks of grace. */
	memset(&v, 0, sizeof(v));
	v.st.role = ZS_ROLE_UNKNOWN;
	v.st.pos[0] = 1000;
	for (i = 0; i < 10; i++) {
		v.start = ZS_START_NONE;
		run("test_verdict", &v, sizeof(v));
	}
	CHECK(v.st.http == ZS_HTTP_UNKNOWN, "undecided after 10 body chunks");
	v.start = ZS_START_RESPONSE;
	run("test_verdict", &v, sizeof(v));
	CHECK(v.report == 1 && v.st.http == ZS_HTTP_YES, "pre-existing conn picked up");
	memset(&v, 0, sizeof(v));
	v.st.pos[1] = 5;
	for (i = 0; i < 64; i++)
		run("test_verdict", &v, sizeof(v));
	CHECK(v.st.http == ZS_HTTP_NO, "pre-existing non-HTTP conn given up after 64 chunks");
}

/* A chunk inside a header block still open in its direction continues it;
 * one after the block ended (budget 0), or on a pipelined connection, may
 * start a message. */
static void test_may_start(void)
{
	struct zs_t_may_start m;

	memset(&m, 0, sizeof(m));
	m.dir = 1;
	run("test_may_start", &m, sizeof(m));
	CHECK(m.result == 1, "no header block open: may start");
	m.st.budget[1] = 4095; /* a response's "H" read alone: its block is open */
	run("test_may_start", &m, sizeof(m));
	CHECK(m.result == 0, "inside an open header block: continues it");
	m.dir = 0;
	run("test_may_start", &m, sizeof(m));
	CHECK(m.result == 1, "the other direction may start");
	m.dir = 1;
	m.st.pipelined = 1;
	run("test_may_start", &m, sizeof(m));
	CHECK(m.result == 1, "pipelined: every chunk looked at");
}

static void test_enrol(void)
{
	struct zs_t_enrol e = {
		.family = 2, .state = 1, .fastreuse = -1, .fastreuseport = -1, .in_scope = 1
	};

	run("test_enrol_judge", &e, sizeof(e));
	CHECK(e.result == ZS_ENROL_DONE, "connect()ed IPv4: enrolled (%u)", e.result);
	e.family = 10;
	run("test_enrol_judge", &e, sizeof(e));
	CHECK(e.result == ZS_ENROL_DONE, "connect()ed IPv6: enrolled (%u)", e.result);
	e.fastreuse = 0; /* a listener's bucket: an accepted connection */
	run("test_enrol_judge", &e, sizeof(e));
	CHECK(e.result == ZS_ENROL_NOT_CLIENT, "accepted: left (%u)", e.result);
	e.fastreuse = -1;
	e.fastreuseport = 1; /* bound with SO_REUSEPORT */
	run("test_enrol_judge", &e, sizeof(e));
	CHECK(e.result == ZS_ENROL_NOT_CLIENT, "bound port: left (%u)", e.result);
	e.fastreuseport = -1;
	e.state = 8; /* CLOSE_WAIT */
	run("test_enrol_judge", &e, sizeof(e));
	CHECK(e.result == ZS_ENROL_NOT_OPEN, "closing: left (%u)", e.result);
	e.state = 1;
	e.family = 1; /* AF_UNIX */
	run("test_enrol_judge", &e, sizeof(e));
	CHECK(e.result == ZS_ENROL_NOT_OPEN, "not IP: left (%u)", e.result);
	e.family = 2;
	e.in_scope = 0;
	run("test_enrol_judge", &e, sizeof(e));
	CHECK(e.result == ZS_ENROL_OUT_OF_SCOPE, "ports out of scope: left (%u)", e.result);
}

static void test_copy_len(void)
{
	struct zs_t_copy c = {
		.len = 100, .budget = 0, .start = ZS_START_REQUEST, .capture_size = 4096
	};

	run("test_copy_len", &c, sizeof(c));
	CHECK(c.result == 100 && c.budget == 4096, "start: %u %u", c.result, c.budget);
	c = (struct zs_t_copy){
		.len = 10000, .budget = 0, .start = ZS_START_REQUEST, .capture_size = 4096
	};
	run("test_copy_len", &c, sizeof(c));
	CHECK(c.result == 4096, "capped at capture size: %u", c.result);
	c = (struct zs_t_copy){
		.len = 500, .budget = 300, .start = ZS_START_NONE, .capture_size = 4096
	};
	run("test_copy_len", &c, sizeof(c));
	CHECK(c.result == 300, "continuation within budget: %u", c.result);
	c = (struct zs_t_copy){
		.len = 500, .budget = 0, .start = ZS_START_NONE, .capture_size = 4096
	};
	run("test_copy_len", &c, sizeof(c));
	CHECK(c.result == 0, "body chunk copied: %u", c.result);
}

static struct zs_t_tp tp(const char *block)
{
	struct zs_t_tp t = { 0 };

	t.n = (__u32)strlen(block);
	memcpy(t.buf, block, t.n < sizeof(t.buf) ? t.n : sizeof(t.buf));
	run("test_tp", &t, sizeof(t));
	return t;
}

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define RL "GET / HTTP/1.1\r\nHost: a\r\n"

/* The scan written out byte at a time (what zs_tp_nl and zs_tp_line_in
 * decide at each "\n", in order), for the random blocks below. */
static struct zs_t_tp ref_tp_scan(const unsigned char *b, unsigned n)
{
	struct zs_t_tp r = { 0 };

	for (unsigned i = 0; i < n; i++) {
		unsigned l = i + 1, k;
		char low[12];

		if (b[i] != '\n')
			continue;
		if (!r.nl1)
			r.nl1 = i + 1;
		if (r.ts_value && !r.ts_len && i > r.ts_value)
			r.ts_len = i - r.ts_value - (b[i - 1] == '\r');
		if (l >= n)
			continue;
		if (b[l] == '\r' || b[l] == '\n') {
			r.end = l + (b[l] == '\r' ? 2 : 1);
			break;
		}
		if (l + 5 < n && ((tolower(b[l]) == 'b' && b[l + 1] == '3' && b[l + 2] == ':') ||
				  (tolower(b[l]) == 'x' && b[l + 1] == '-' &&
				   tolower(b[l + 2]) == 'b' && b[l + 3] == '3' && b[l + 4] == '-')))
			r.b3 = 1;
		if (l + 12 > n)
			continue;
		for (k = 0; k < 12; k++)
			low[k] = (char)tolower(b[l + k]);
		if (!memcmp(low, "tracestate:", 11)) {
			unsigned v = l + 11, w;

			if (r.ts_count) {
				r.ts_count = 2;
				continue;
			}
			r.ts_count = 1;
			for (w = 0; w < 4 && (b[v] == ' ' || b[v] == '\t'); w++)
				v++;
			r.ts_value = v;
		} else if (!memcmp(low, "traceparent:", 12)) {
			r.count = r.count ? 2 : 1;
		}
	}
	return r;
}

/* Random header blocks (lines of every kind the scan tells apart, short and
 * long, CRLF or LF, stale bytes past n) against ref_tp_scan. */
static void test_tp_scan_random(void)
{
	static const char *const lines[] = {
		"Host: a",
		"A:",
		"Accept: */*",
		"traceparent: " TP,
		"TRACEPARENT:" TP,
		"tracestate: x=1",
		"TraceState:  congo=t61rcWkgMzE",
		"tracestate:",
		"b3: 1-2-1",
		"X-B3-TraceId: 463ac35c9f6413ad",
		"x-b3",
		"t",
		"traceparen",
		"User-Agent: wrk",
	};
	unsigned seed = 777, bad = 0, total = 0;

	for (int t = 0; t < 3000; t++) {
		struct zs_t_tp u = { 0 }, r;
		unsigned n = 0;
		int nlines;

		seed = seed * 1103515245u + 12345u;
		nlines = (int)((seed >> 16) % 9);
		n = (unsigned)snprintf((char *)u.buf, sizeof(u.buf), "GET /%.*s HTTP/1.1%s",
				       (int)((seed >> 8) % 9), "abcdefgh",
				       (seed & 1) ? "\n" : "\r\n");
		for (int k = 0; k < nlines; k++) {
			const char *ln;

			seed = seed * 1103515245u + 12345u;
			ln = lines[(seed >> 16) % (sizeof(lines) / sizeof(lines[0]))];
			if (n + strlen(ln) + 4 >= sizeof(u.buf))
				break;
			n += (unsigned)snprintf((char *)u.buf + n, sizeof(u.buf) - n, "%s%s", ln,
						(seed >> 3) & 1 ? "\n" : "\r\n");
		}
		if (seed & 4 && n + 2 < sizeof(u.buf))
			n += (unsigned)snprintf((char *)u.buf + n, sizeof(u.buf) - n, "\r\n");
		/* cut anywhere, past n what an earlier message left */
		seed = seed * 1103515245u + 12345u;
		if (seed & 8)
			n = (seed >> 16) % (n + 1);
		for (unsigned k = n; k < sizeof(u.buf); k++)
			u.buf[k] = (unsigned char)"\ntraceparent: \r\n"[k % 17];
		u.n = n;
		r = ref_tp_scan(u.buf, n);
		run("test_tp", &u, sizeof(u));
		total++;
		if (u.count != r.count || u.b3 != r.b3 || u.end != r.end || u.nl1 != r.nl1 ||
		    u.ts_count != r.ts_count || u.ts_value != r.ts_value || u.ts_len != r.ts_len) {
			if (bad++ < 3)
				CHECK(0,
				      "random block %d (n %u): count %u/%u b3 %u/%u end %u/%u nl1 "
				      "%u/%u "
				      "ts %u/%u at %u/%u len %u/%u",
				      t, n, u.count, r.count, u.b3, r.b3, u.end, r.end, u.nl1,
				      r.nl1, u.ts_count, r.ts_count, u.ts_value, r.ts_value,
				      u.ts_len, r.ts_len);
		}
	}
	CHECK(bad == 0, "%u of %u random header blocks scanned unlike the reference", bad, total);
}

/* In-place thread_ctx writes: a copy taken part way through a write (any
 * mix of two contexts' words and checks) must fail its check; whole ones
 * pass. Random context pairs, every mix. */
static void test_ctx_check(void)
{
	unsigned seed = 4242, bad = 0, total = 0;

	for (int t = 0; t < 200; t++) {
		struct zs_t_ctx_check c = { 0 };
		unsigned char *pa = (unsigned char *)&c.a, *pb = (unsigned char *)&c.b;

		for (size_t k = 0; k < 28; k++) { /* all but check */
			seed = seed * 1103515245u + 12345u;
			pa[k] = (unsigned char)(seed >> 16);
			seed = seed * 1103515245u + 12345u;
			pb[k] = (unsigned char)(seed >> 16);
		}
		for (unsigned tear = 0; tear < 32; tear++) {
			int whole = tear == 0 || tear == 31;

			c.tear = tear;
			run("test_ctx_check", &c, sizeof(c));
			total++;
			if (!c.ok_a || !c.ok_b || c.ok_torn != (unsigned)whole) {
				if (bad++ < 3)
					CHECK(0, "pair %d, tear %u: ok a %u torn %u b %u", t, tear,
					      c.ok_a, c.ok_torn, c.ok_b);
			}
		}
	}
	CHECK(bad == 0, "%u of %u in-place context writes checked wrong", bad, total);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Trace and span ids: 4,096 from one state for each of two threads (the
 * same state read by both, as when one preempted the other): all distinct,
 * each bit set about half the time. */
static void test_ids(void)
{
	enum { N = 4096 };
	static uint64_t ids[2 * N];
	unsigned ones[64] = { 0 }, dup = 0, skewed = 0;

	for (int t = 0; t < 2; t++) {
		struct zs_t_ids c = { .state = 0x0123456789abcdefULL, .salt = 1000 + (unsigned)t };

		for (int k = 0; k < N; k += ZS_T_IDS) {
			run("test_ids", &c, sizeof(c));
			memcpy(&ids[t * N + k], c.out, sizeof(c.out));
		}
	}
	for (int k = 0; k < 2 * N; k++)
		for (int b = 0; b < 64; b++)
			ones[b] += (unsigned)(ids[k] >> b & 1);
	qsort(ids, 2 * N, sizeof(ids[0]), cmp_u64);
	for (int k = 1; k < 2 * N; k++)
		dup += ids[k] == ids[k - 1];
	for (int b = 0; b < 64; b++)
		skewed += ones[b] < 2 * N * 45 / 100 || ones[b] > 2 * N * 55 / 100;
	CHECK(dup == 0 && skewed == 0, "ids: %u repeated, %u of 64 bits skewed", dup, skewed);
}

static void test_trace_ctx(void)
{
	struct zs_t_tp t = tp(RL "traceparent: " TP "\r\nAccept: */*\r\n\r\n");

	CHECK(t.count == 1 && t.parsed == 0, "valid: count %u parsed %d", t.count, t.parsed);
	CHECK(t.c.trace_id[0] == 0x0a && t.c.trace_id[15] == 0x9c && t.c.span_id[0] == 0xb7 &&
		      t.c.flags == 1,
	      "fields");
	CHECK(memcmp(t.hdr, "traceparent: " TP "\r\n", 70) == 0, "format: %.70s", t.hdr);
	CHECK(t.end == t.n, "header end %u of %u", t.end, t.n);
	CHECK(t.nl1 == 16, "request line ends at %u, want 16", t.nl1);
	t = tp("GET /a/very/long/path?with=a&query=string HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(t.nl1 == 52, "long request line ends at %u, want 52", t.nl1);
	t = tp("GET / HTTP/1.1");
	CHECK(t.nl1 == 0, "no line end: %u", t.nl1);
	t = tp(RL "TraceParent:" TP "\r\n\r\n");
	CHECK(t.parsed == 0, "name case-insensitive, no space");
	t = tp(RL "traceparent:  \t" TP "\r\n\r\n");
	CHECK(t.parsed == 0, "whitespace before the value");
	t = tp(RL "traceparent: 00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01\r\n\r\n");
	CHECK(t.count == 1 && t.parsed == -1, "uppercase rejected");
	t = tp(RL "traceparent: ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n");
	CHECK(t.parsed == -1, "version ff rejected");
	t = tp(RL "traceparent: 00-00000000000000000000000000000000-b7ad6b7169203331-01\r\n\r\n");
	CHECK(t.parsed == -1, "zero trace id rejected");
	t = tp(RL "traceparent: 00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01\r\n\r\n");
	CHECK(t.parsed == -1, "zero parent rejected");
	t = tp(RL "traceparent: " TP "-00\r\n\r\n");
	CHECK(t.parsed == -1, "version 00 longer than 55");
	t = tp(RL "traceparent: cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-09-x\r\n\r\n");
	CHECK(t.parsed == 0 && t.c.flags == 1, "future version: extra field ignored, flags %u",
	      t.c.flags);
	t = tp(RL "traceparent: " TP "\r\ntraceparent: " TP "\r\n\r\n");
	CHECK(t.count == 2 && t.parsed == -2, "duplicate header: count %u", t.count);
	t = tp(RL "b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n\r\n");
	CHECK(t.count == 0 && t.b3 == 1, "b3 seen");
	t = tp(RL "X-B3-TraceId: 463ac35c9f6413ad\r\n\r\n");
	CHECK(t.b3 == 1, "x-b3 seen");
	t = tp(RL "x-traceparent: " TP "\r\n\r\n");
	CHECK(t.count == 0, "a longer header name is not traceparent");
	t = tp(RL "Accept: */*\r\n\r\ntraceparent: " TP "\r\n");
	CHECK(t.count == 0, "a body after the header block is not scanned");
	t = tp(RL "Accept: */*\r\n");
	CHECK(t.end == 0, "incomplete block: no end");
	t = tp(RL "traceparent: " TP "\r\nTraceState:  congo=t61rcWkgMzE\r\nA: b\r\n\r\n");
	CHECK(t.parsed == 0 && t.ts_count == 1 && t.ts_len == 17 &&
		      memcmp(t.buf + t.ts_value, "congo=t61rcWkgMzE", 17) == 0,
	      "tracestate found: count %u len %u", t.ts_count, t.ts_len);
	t = tp(RL "tracestate: a=1\r\ntracestate: b=2\r\n\r\n");
	CHECK(t.ts_count == 2, "two tracestate headers: not passed on as one");

	/* The scan goes 8 bytes at a time: the header at every offset in a word,
	 * lines shorter than a word (several "\n" in one), nothing past n. */
	{
		char block[512], pad[16];
		int k, ok = 0;

		/* after a short line: its "\n" and the one before it share a word */
		for (k = 0; k < 16; k++) {
			memset(pad, 'p', (size_t)k);
			pad[k] = 0;
			snprintf(block, sizeof(block),
				 RL "X-Pad: %s\r\na:\r\ntraceparent: " TP "\r\n\r\n", pad);
			t = tp(block);
			ok += t.count == 1 && t.parsed == 0 && t.end == t.n;
			snprintf(block, sizeof(block),
				 "GET / HTTP/1.1\nX-Pad: %s\na:\nb:\ntraceparent: " TP "\n\n", pad);
			t = tp(block);
			ok += t.count == 1 && t.parsed == 0 && t.end == t.n;
		}
		CHECK(ok == 32, "traceparent at each of 16 offsets: %d of 32 found", ok);
	}
	t = tp("GET / HTTP/1.1\na:\nb:\nc:\nd:1\ntraceparent: " TP "\ntracestate: x=1\n\n");
	CHECK(t.count == 1 && t.parsed == 0 && t.ts_count == 1 && t.ts_len == 3 && t.end == t.n,
	      "short LF-only lines: count %u parsed %d end %u of %u", t.count, t.parsed, t.end,
	      t.n);
	{
		static const char full[] = RL "A: b\r\ntraceparent: " TP "\r\n\r\n";
		struct zs_t_tp u = { 0 };

		memcpy(u.buf, full, sizeof(full) - 1);
		u.n = (__u32)strlen(RL "A: b\r\n"); /* the rest is stale bytes past n */
		run("test_tp", &u, sizeof(u));
		CHECK(u.count == 0 && u.end == 0, "bytes past n scanned: count %u end %u", u.count,
		      u.end);
	}
}

/* ns per scan of chunk (what the kernel scans per served request, per
 * response read), best of 5 runs of 100,000: printed, not asserted. */
static double time_scan(unsigned which, const char *chunk, unsigned n, unsigned is_response)
{
	static struct zs_t_scan_time t;
	struct bpf_program *p = bpf_object__find_program_by_name(obj, "time_scans");
	struct bpf_map *bss = bpf_object__find_map_by_name(obj, ".bss");
	unsigned char pkt[64] = { 0 };
	unsigned key = 0;
	double best = -1;

	if (!p || !bss)
		return -1;
	memset(t.buf, 'x', sizeof(t.buf));
	memcpy(t.buf, chunk, strlen(chunk));
	t.n = n;
	t.which = which;
	t.is_response = is_response;
	if (bpf_map_update_elem(bpf_map__fd(bss), &key, &t, 0))
		return -1;
	for (int r = 0; r < 5; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = 100000);

		if (bpf_prog_test_run_opts(bpf_program__fd(p), &o))
			return -1;
		if (best < 0 || o.duration < best)
			best = o.duration;
	}
	return best;
}

static void time_scans(void)
{
	static const char req[] =
		"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:28080\r\n"
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
				   "Date: Mon, 30 Nov 2026 21:00:00 GMT\r\n"
				   "Content-Type: text/html\r\nContent-Length: 612\r\n"
				   "Last-Modified: Mon, 30 Nov 2026 20:00:00 GMT\r\n"
				   "Connection: keep-alive\r\nETag: \"6560a0f0-264\"\r\n"
				   "Accept-Ranges: bytes\r\n\r\n";
	unsigned rq = sizeof(req) - 1, rs = sizeof(resp) - 1;
	double none = time_scan(ZS_T_TIME_NONE, req, rq, 0);

	printf("scan cost, ns per chunk beyond an empty run (%.0f ns): %u-byte request: header "
	       "end %.0f, traceparent %.0f; %u-byte response (%u of headers): header end %.0f, "
	       "traceparent %.0f\n",
	       none, rq, time_scan(ZS_T_TIME_HDR_SCAN, req, rq, 0) - none,
	       time_scan(ZS_T_TIME_TP_SCAN, req, rq, 0) - none, rs + 612, rs,
	       time_scan(ZS_T_TIME_HDR_SCAN, resp, rs + 612, 1) - none,
	       time_scan(ZS_T_TIME_TP_SCAN, resp, rs + 612, 1) - none);
}

static uint64_t tls_ret(uint32_t kind, uint64_t rc, uint64_t nbytes)
{
	struct zs_t_tls_ret t = { .rc = rc, .nbytes = nbytes, .kind = kind };

	run("test_tls_ret_len", &t, sizeof(t));
	return t.len;
}

static uint32_t tls_match(uint64_t cookie, uint32_t cached, uint32_t thread, uint64_t len)
{
	struct zs_t_tls_match t = {
		.call_cookie = cookie, .len = len, .cached_ok = cached, .thread_ok = thread
	};

	run("test_tls_match", &t, sizeof(t));
	return t.match;
}

static struct zs_t_go go_run(uint64_t g, uint64_t then, uint64_t now)
{
	struct zs_t_go t = { .g = g, .then = then, .now = now };

	run("test_go", &t, sizeof(t));
	return t;
}

static void test_go(void)
{
	uint64_t g;
	uint32_t seen = 0, n = 0;

	/* goroutine keys: the flow bit always, never the process key, and
	 * distinct for g structs (from the heap, 0x1a0 and more apart) */
	for (g = 0xc000002000ULL; g < 0xc000002000ULL + 64 * 0x1a0; g += 0x1a0) {
		struct zs_t_go t = go_run(g, 0, 0);

		n += (t.flow & ZS_FLOW_BIT) && t.flow != 0xffffffffu;
		CHECK(t.flow != seen, "adjacent g structs, different keys");
		seen = t.flow;
	}
	CHECK(n == 64, "flow bit set, never 0xffffffff");
	CHECK(go_run(0xc000002000ULL, 0, 0).flow == go_run(0xc000002000ULL, 5, 9).flow,
	      "one g, one key");
	/* a handoff holds for a second, and not for a time before it */
	CHECK(go_run(0, 1000, 1000).fresh, "at once");
	CHECK(go_run(0, 1000, 1000 + 999999999ULL).fresh, "just under a second");
	CHECK(!go_run(0, 1000, 1000 + 1000000000ULL).fresh, "a second later");
	CHECK(!go_run(0, 2000, 1000).fresh, "made after now (another CPU's clock)");
}

static void test_tls(void)
{
	struct zs_t_mark_tls m = { 0 };

	/* SSL_read/SSL_write: int bytes, <= 0 is no data (error, want read) */
	CHECK(tls_ret(ZS_TLS_RET_INT, 512, 0) == 512, "int 512");
	CHECK(tls_ret(ZS_TLS_RET_INT, (uint64_t)-1, 0) == 0, "int -1");
	CHECK(tls_ret(ZS_TLS_RET_INT, 0, 0) == 0, "int 0");
	/* an int return leaves the upper half of rax undefined */
	CHECK(tls_ret(ZS_TLS_RET_INT, 0xdeadbeef00000010ULL, 0) == 16, "int in the low half");
	/* _ex: 1 and the count in *arg4; 0 means failure whatever *arg4 says */
	CHECK(tls_ret(ZS_TLS_RET_EX, 1, 70000) == 70000, "ex 1");
	CHECK(tls_ret(ZS_TLS_RET_EX, 0, 70000) == 0, "ex 0");
	/* ssl_read_internal (probed for both SSL_read and SSL_read_ex): any
	 * positive int is success, as SSL_read reads it; -1 is failure */
	CHECK(tls_ret(ZS_TLS_RET_EX, 2, 300) == 300, "ex internal > 1");
	CHECK(tls_ret(ZS_TLS_RET_EX, 0xffffffffULL, 300) == 0, "ex -1");
	/* gnutls: ssize_t */
	CHECK(tls_ret(ZS_TLS_RET_LONG, 1ULL << 33, 0) == 1ULL << 33, "long large");
	CHECK(tls_ret(ZS_TLS_RET_LONG, (uint64_t)-28, 0) == 0, "long GNUTLS_E_AGAIN");
	CHECK(tls_ret(7, 10, 10) == 0, "unknown kind");

	CHECK(tls_match(42, 1, 1, 10) == 1, "syscall in the call wins");
	CHECK(tls_match(42, 0, 0, 0) == 1, "syscall even without data");
	CHECK(tls_match(0, 1, 1, 10) == 2, "then the session cache");
	CHECK(tls_match(0, 0, 1, 10) == 3, "then the thread's last read");
	CHECK(tls_match(0, 0, 1, 0) == 0, "the thread's last read only for data");
	CHECK(tls_match(0, 0, 0, 10) == 0, "nothing known");

	/* first plaintext: the handshake's bytes and verdict are forgotten */
	m.st.pos[0] = 517;
	m.st.pos[1] = 1800;
	m.st.http = ZS_HTTP_NO;
	m.st.probe_chunks = 3;
	m.st.budget[0] = 9;
	m.st.role = ZS_ROLE_SERVER;
	m.ssl = 0x5555aaaa0000ULL;
	m.tgid = 77;
	run("test_mark_tls", &m, sizeof(m));
	CHECK(m.st.tls == 1 && m.st.ssl == m.ssl && m.st.tgid == 77, "marked");
	CHECK(m.st.pos[0] == 0 && m.st.pos[1] == 0 && m.st.http == ZS_HTTP_UNKNOWN &&
		      m.st.probe_chunks == 0 && m.st.budget[0] == 0,
	      "positions and verdict start again");
	CHECK(m.st.role == ZS_ROLE_SERVER, "role kept");
	/* later calls: positions are the plaintext's own */
	m.st.pos[0] = 300;
	m.ssl = 0x5555aaaa0100ULL;
	run("test_mark_tls", &m, sizeof(m));
	CHECK(m.st.pos[0] == 300 && m.st.ssl == 0x5555aaaa0100ULL, "kept once tls");
	/* announced as plaintext HTTP already: positions must not go back */
	memset(&m, 0, sizeof(m));
	m.st.pos[1] = 100;
	m.st.announced = 1;
	m.st.http = ZS_HTTP_YES;
	run("test_mark_tls", &m, sizeof(m));
	CHECK(m.st.tls == 1 && m.st.pos[1] == 100 && m.st.http == ZS_HTTP_YES, "announced kept");
}

static void test_conn_ctx(void)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, "test_conn_ctx");
	struct bpf_map *bss = bpf_object__find_map_by_name(obj, ".bss");
	static struct zs_t_conn_ctx t;
	LIBBPF_OPTS(bpf_test_run_opts, o);
	unsigned key = 0;
	int i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < 16; i++) {
		t.a.trace_id[i] = (uint8_t)(0xa0 + i);
		t.b.trace_id[i] = (uint8_t)(0xb0 + i);
	}
	memset(t.a.span_id, 0xaa, 8);
	memset(t.b.span_id, 0xbb, 8);
	t.a.state = ZS_CTX_INCOMING;
	t.b.state = ZS_CTX_ROOT;
	t.a.flags = t.b.flags = 1;
	t.a.has_ts = 1;
	for (i = 0; i < ZS_T_CONN_STEPS; i++)
		t.ret[i] = 7;
	if (!p || !bss || bpf_map_update_elem(bpf_map__fd(bss), &key, &t, 0)) {
		CHECK(0, "test_conn_ctx: program or .bss");
		return;
	}
	CHECK(bpf_prog_test_run_opts(bpf_program__fd(p), &o) == 0, "test_conn_ctx ran");
	CHECK(bpf_map_lookup_elem(bpf_map__fd(bss), &key, &t) == 0, "test_conn_ctx: .bss read");
#define SAME_TRACE(c, x) (memcmp((c).trace_id, t.x.trace_id, 16) == 0)
	CHECK(t.ret[0] == 0 && SAME_TRACE(t.out[0], a) && t.out[0].state == ZS_CTX_INCOMING &&
		      memcmp(t.out[0].span_id, t.a.span_id, 8) != 0,
	      "the first request takes what its connecting thread served (a), a span of its own");
	CHECK(t.ret[1] == 0 && SAME_TRACE(t.out[1], b),
	      "the second takes what its sending thread serves now (b)");
	CHECK(t.ret[2] == 0 && SAME_TRACE(t.out[2], b),
	      "a first request sent over a second after connect(): the sender's (b)");
	CHECK(t.ret[3] == 0 && SAME_TRACE(t.out[3], a) && t.out[3].has_ts == 1,
	      "a's tracestate passed on while the thread still serves a");
	CHECK(t.ret[4] == 0 && SAME_TRACE(t.out[4], a) && t.out[4].has_ts == 0,
	      "a, without its tracestate, once the thread serves b (its tracestate is b's now)");
	CHECK(t.ret[5] == 0 && SAME_TRACE(t.out[5], b),
	      "nothing served at connect(): the sender's (b)");
	CHECK(t.ret[6] == -1, "B3 only at connect(): not injected (%d)", t.ret[6]);
#undef SAME_TRACE
}

int main(int argc, char **argv)
{
	int err;

	if (argc < 2) {
		fprintf(stderr, "usage: %s OBJECT...\n", argv[0]);
		return 2;
	}
	for (int a = 1; a < argc; a++) {
		obj = bpf_object__open_file(argv[a], NULL);
		if (!obj || libbpf_get_error(obj)) {
			fprintf(stderr, "open %s failed\n", argv[a]);
			return 1;
		}
		err = bpf_object__load(obj);
		CHECK(err == 0, "load %s: %d (verifier rejected the test programs)", argv[a], err);
		if (!err && bpf_object__find_program_by_name(obj, "test_classify")) {
			test_classify();
			test_first_opaque();
			test_proxy_hdr();
			test_hdr_end();
			test_verdict();
			test_may_start();
			test_copy_len();
		}
		if (!err && bpf_object__find_program_by_name(obj, "test_hdr_scan"))
			test_hdr_scan();
		if (!err && bpf_object__find_program_by_name(obj, "test_tp")) {
			test_trace_ctx();
			test_tp_scan_random();
			test_ctx_check();
			test_ids();
		}
		if (!err && bpf_object__find_program_by_name(obj, "time_scans"))
			time_scans();
		if (!err && bpf_object__find_program_by_name(obj, "test_enrol_judge"))
			test_enrol();
		if (!err && bpf_object__find_program_by_name(obj, "test_tls_ret_len"))
			test_tls();
		if (!err && bpf_object__find_program_by_name(obj, "test_conn_ctx"))
			test_conn_ctx();
		if (!err && bpf_object__find_program_by_name(obj, "test_go"))
			test_go();
		bpf_object__close(obj);
	}
	return zs_test_done("bpf_prog_run");
}
