// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1.x parser and framer tests: the llhttp corpus (tests/corpora,
 * converted by corpus_to_fixture.py; path in argv[1]) and our own edge cases
 * of how the kernel hands us bytes (split headers, unseen bodies, tails).
 */
#include "http1.h"
#include "zs_test.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <strings.h>

#define MAXM 16

struct rec {
	int nmsg, ncomplete, nlost;
	struct zs_http_msg msg[MAXM];
	size_t nh[MAXM];
	char hdr[MAXM][8][2][64];
	const char *req_method; /* for response framing */
	int complete_at[MAXM];
	int feed_no;
};

static enum zs_http_body on_headers(void *u, const struct zs_http_msg *m,
				    const struct zs_http_header *h, size_t n)
{
	struct rec *r = u;
	size_t i;

	if (r->nmsg < MAXM) {
		r->msg[r->nmsg] = *m;
		r->nh[r->nmsg] = n;
		for (i = 0; i < n && i < 8; i++) {
			snprintf(r->hdr[r->nmsg][i][0], 64, "%.*s", (int)h[i].name_len, h[i].name);
			snprintf(r->hdr[r->nmsg][i][1], 64, "%.*s", (int)h[i].value_len,
				 h[i].value);
		}
	}
	r->nmsg++;
	return m->is_request ? zs_http_request_body(m) : zs_http_response_body(m, r->req_method);
}

static void on_complete(void *u)
{
	struct rec *r = u;

	if (r->ncomplete < MAXM)
		r->complete_at[r->ncomplete] = r->feed_no;
	r->ncomplete++;
}

static void on_lost(void *u, const char *why)
{
	((struct rec *)u)->nlost++;
}

static const struct zs_http_stream_ops ops = { on_headers, on_complete, on_lost };

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	if (strcmp(hex, "-") == 0)
		return 0;
	while (hex[0] && hex[1] && n < cap) {
		unsigned v;

		sscanf(hex, "%2x", &v);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

/*
 * Cases where we differ from llhttp on purpose:
 * - other protocols llhttp also speaks (RTSP, ICE, HTTP/0.9, the HTTP/2
 *   preface) are not HTTP/1.x messages to us;
 * - obs-fold header continuation lines are rejected (RFC 9112 5.2 allows it);
 * - a bare LF ends a line, as in most servers (llhttp strict mode rejects);
 * - trailer fields are not reported as headers (we do not keep them).
 */
static int deliberate_divergence(const char *title)
{
	static const char *const list[] = {
		"ANNOUNCE request with RTSP",
		"PRI request HTTP2",
		"No HTTP version",
		"RTSP response",
		"ICE response",
		"HTTP version 0.9",
		"SOURCE request with ICE",
		"OPTIONS request with RTSP",
		"Multiple tokens with folding and LWS",
		"Missing CR between headers",
		"Trailing headers",
	};
	size_t i;

	for (i = 0; i < sizeof(list) / sizeof(list[0]); i++)
		if (strcmp(title, list[i]) == 0)
			return 1;
	return 0;
}

static void rtrim(char *v)
{
	size_t n = strlen(v);

	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = 0;
}

struct expect {
	char method[32], url[600];
	int status, minor, nh, done;
	char hn[8][64], hv[8][64];
};

static void run_corpus(const char *path)
{
	FILE *f = fopen(path, "r");
	static char line[1 << 17];
	static uint8_t input[1 << 16];
	static struct expect ex[MAXM];
	char title[256] = "", type[32] = "";
	size_t in_len = 0;
	int nex = 0, err = 0, cases = 0, ok_cases = 0, err_cases = 0, err_rejected = 0,
	    diverged = 0;

	CHECK(f != NULL, "cannot open corpus fixture %s", path);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == 'C') {
			snprintf(title, sizeof(title), "%.255s", line + 2);
			nex = 0;
		} else if (line[0] == 'T') {
			snprintf(type, sizeof(type), "%.31s", line + 2);
		} else if (line[0] == 'I') {
			in_len = unhex(line + 2, input, sizeof(input));
		} else if (line[0] == 'E') {
			err = atoi(line + 2);
		} else if (line[0] == 'M' && nex < MAXM) {
			struct expect *e = &ex[nex++];

			memset(e, 0, sizeof(*e));
			sscanf(line + 2, "%31s %599s %d %d %d %d", e->method, e->url, &e->status,
			       &e->minor, &e->nh, &e->done);
		} else if (line[0] == 'H' && nex > 0) {
			struct expect *e = &ex[nex - 1];
			int k;
			char nhex[200], vhex[200];
			uint8_t buf[64];
			size_t l;

			for (k = 0; k < 8 && e->hn[k][0]; k++)
				;
			if (k < 8 && sscanf(line + 2, "%199s %199s", nhex, vhex) == 2) {
				l = unhex(nhex, buf, 63);
				memcpy(e->hn[k], buf, l);
				l = unhex(vhex, buf, 63);
				memcpy(e->hv[k], buf, l);
			}
		} else if (line[0] == '.') {
			struct zs_http_stream s;
			struct rec r;
			int i, k;

			memset(&r, 0, sizeof(r));
			cases++;
			zs_http_stream_init(&s, strcmp(type, "request") == 0, 16384, &ops, &r);
			zs_http_stream_feed(&s, input, in_len, in_len, NULL, 0, true);
			zs_http_stream_free(&s);
			if (deliberate_divergence(title)) {
				diverged++;
			} else if (!err) {
				/* llhttp accepted: we must see the same messages. */
				ok_cases++;
				CHECK(r.nlost == 0, "[%s] lost %d", title, r.nlost);
				CHECK(r.nmsg == nex, "[%s] messages %d want %d", title, r.nmsg,
				      nex);
				for (i = 0; i < nex && i < r.nmsg; i++) {
					struct zs_http_msg *m = &r.msg[i];

					if (strcmp(type, "request") == 0) {
						CHECK_STR(m->method, ex[i].method);
						CHECK(strncmp(m->target, ex[i].url,
							      strlen(m->target)) == 0 ||
							      strcmp(ex[i].url, "-") == 0,
						      "[%s] url '%s' want '%s'", title, m->target,
						      ex[i].url);
					} else {
						CHECK(m->status == ex[i].status,
						      "[%s] status %d want %d", title, m->status,
						      ex[i].status);
					}
					CHECK(m->minor_version == ex[i].minor,
					      "[%s] minor %d want %d", title, m->minor_version,
					      ex[i].minor);
					CHECK((int)r.nh[i] == ex[i].nh, "[%s] headers %zu want %d",
					      title, r.nh[i], ex[i].nh);
					for (k = 0; k < 8 && k < ex[i].nh && k < (int)r.nh[i];
					     k++) {
						CHECK_STR(r.hdr[i][k][0], ex[i].hn[k]);
						/* We drop trailing OWS (RFC 9110 5.5); llhttp keeps it. */
						rtrim(ex[i].hv[k]);
						CHECK_STR(r.hdr[i][k][1], ex[i].hv[k]);
					}
				}
				{
					int want_done = 0;

					for (i = 0; i < nex; i++)
						want_done += ex[i].done;
					CHECK(r.ncomplete == want_done, "[%s] complete %d want %d",
					      title, r.ncomplete, want_done);
				}
			} else {
				/* llhttp rejected: we must not accept more messages than it
				 * got through. Body-level errors (bad chunk sizes) are not
				 * ours to see when bodies are not captured. */
				err_cases++;
				if (r.nlost > 0 || r.nmsg < nex ||
				    (r.nmsg == nex && r.ncomplete < nex + 1))
					err_rejected++;
				CHECK(r.nmsg <= nex + 1, "[%s] accepted %d messages, llhttp %d",
				      title, r.nmsg, nex);
			}
		}
	}
	fclose(f);
	printf("corpus: %d cases, %d accepted by llhttp, %d rejected by llhttp (%d rejected or cut "
	       "short "
	       "by us too), %d deliberate divergences\n",
	       cases, ok_cases, err_cases, err_rejected, diverged);
	CHECK(cases > 150, "corpus too small: %d", cases);
}

/* Feeds s one byte per chunk, as a client calling send() per byte does. */
static void feed_bytes(struct zs_http_stream *s, const char *p, struct rec *r)
{
	size_t i, n = strlen(p);

	for (i = 0; i < n; i++) {
		r->feed_no++;
		zs_http_stream_feed(s, (const uint8_t *)p + i, 1, 1, NULL, 0, i == 0);
	}
}

/* Header values are scanned 8 bytes at a time until a word holds a control
 * byte, a space or DEL: each of those at every offset of the first words of
 * a value, and trailing whitespace, must come out as byte-wise parsing says. */
static void test_value_words(void)
{
	int bad = 0;

	for (int off = 0; off < 24; off++) {
		static const unsigned char specials[] = { 0x01, 0x7f, ' ', '\t', 0x80, 0xff };

		for (size_t k = 0; k < sizeof(specials); k++) {
			char buf[256], val[64];
			const char *method, *target;
			size_t ml, tl, nh = 4;
			int minor, r, want_r;
			struct zs_http_header h[4];
			size_t want_len, skip;

			memset(val, 'v', sizeof(val));
			val[off] = (char)specials[k];
			val[30] = 0;
			snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX-V: %s  \r\nA: b\r\n\r\n",
				 val);
			r = zs_http_parse_request(buf, strlen(buf), &method, &ml, &target, &tl,
						  &minor, h, &nh);
			/* control bytes and DEL reject the request; obs-text is kept;
			 * spaces and tabs inside stay, the trailing ones go */
			want_r = specials[k] == 0x01 || specials[k] == 0x7f ? -1 : (int)strlen(buf);
			/* leading whitespace is not part of the value */
			skip = off == 0 && (specials[k] == ' ' || specials[k] == '\t');
			want_len = 30 - skip;
			if (r != want_r)
				bad++;
			else if (r > 0 && (nh != 2 || h[0].value_len != want_len ||
					   memcmp(h[0].value, val + skip, want_len) != 0 ||
					   h[1].value_len != 1))
				bad++;
		}
	}
	CHECK(bad == 0, "%d header values parsed differently than byte by byte would", bad);
	{
		/* values of exactly 8 and 16 bytes, then the line end */
		const char *req = "GET / HTTP/1.1\r\nA: 12345678\r\nB: 1234567890abcdef\r\n\r\n";
		const char *method, *target;
		size_t ml, tl, nh = 4;
		int minor;
		struct zs_http_header h[4];
		int r = zs_http_parse_request(req, strlen(req), &method, &ml, &target, &tl, &minor,
					      h, &nh);

		CHECK(r == (int)strlen(req) && nh == 2 && h[0].value_len == 8 &&
			      h[1].value_len == 16,
		      "word-sized values: r %d nh %zu", r, nh);
		/* trailing whitespace over whole words, spaces inside kept */
		{
			const char *sp = "GET / HTTP/1.1\r\nDate: Mon, 30 Nov 2026 17:27:01 GMT"
					 "                 \t \r\nA: b\r\n\r\n";
			size_t nh2 = 4;

			r = zs_http_parse_request(sp, strlen(sp), &method, &ml, &target, &tl,
						  &minor, h, &nh2);
			CHECK(r == (int)strlen(sp) && nh2 == 2 && h[0].value_len == 29 &&
				      memcmp(h[0].value, "Mon, 30 Nov 2026 17:27:01 GMT", 29) == 0,
			      "value with spaces and trailing whitespace: r %d len %zu", r,
			      h[0].value_len);
		}
		/* a value cut off mid-word: incomplete, not an error */
		r = zs_http_parse_request(req, 30, &method, &ml, &target, &tl, &minor, h, &nh);
		CHECK(r == -2, "value cut mid-word: %d", r);
	}
}

static void test_edge_cases(void)
{
	struct zs_http_stream s;
	struct rec r;
	const char *get = "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1\r\n\r\n";

	/* One byte per send. */
	memset(&r, 0, sizeof(r));
	zs_http_stream_init(&s, true, 16384, &ops, &r);
	feed_bytes(&s, get, &r);
	CHECK(r.nmsg == 1 && r.ncomplete == 1, "byte-wise: %d %d", r.nmsg, r.ncomplete);
	CHECK_STR(r.msg[0].target, "/a?b=1");
	CHECK_STR(r.msg[0].host, "x");
	CHECK_STR(r.msg[0].user_agent, "t/1");
	CHECK(zs_http_hold_used == 0, "hold not released: %zu", zs_http_hold_used);
	zs_http_stream_free(&s);

	/* Pipelining: three requests in one chunk. */
	memset(&r, 0, sizeof(r));
	zs_http_stream_init(&s, true, 16384, &ops, &r);
	{
		char buf[512];

		snprintf(buf, sizeof(buf), "%s%s%s", get,
			 "POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", get);
		zs_http_stream_feed(&s, (const uint8_t *)buf, strlen(buf), strlen(buf), NULL, 0,
				    true);
	}
	CHECK(r.nmsg == 3 && r.ncomplete == 3, "pipelined: %d %d", r.nmsg, r.ncomplete);
	CHECK_STR(r.msg[1].method, "POST");
	zs_http_stream_free(&s);

	/* Response: headers seen, 1 MB body unseen (counted only), then next. */
	memset(&r, 0, sizeof(r));
	zs_http_stream_init(&s, false, 16384, &ops, &r);
	{
		const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";

		zs_http_stream_feed(&s, (const uint8_t *)h, strlen(h), strlen(h) + 1000, NULL, 0,
				    true);
		CHECK(r.ncomplete == 0, "complete too early");
		zs_http_stream_feed(&s, NULL, 0, 1048576 - 1000 - 1, NULL, 0, false);
		CHECK(r.ncomplete == 0, "complete too early (2)");
		zs_http_stream_feed(&s, NULL, 0, 1, NULL, 0, false);
		CHECK(r.ncomplete == 1, "1 MB body end not found");
	}
	zs_http_stream_free(&s);

	/* Chunked, body unseen but for the tails the kernel sends. */
	memset(&r, 0, sizeof(r));
	zs_http_stream_init(&s, false, 16384, &ops, &r);
	{
		const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
		const char *t1 = "\r\n400\r\nxxxxxxxx\r\n"; /* tail of a middle chunk */

		zs_http_stream_feed(&s, (const uint8_t *)h, strlen(h), strlen(h), NULL, 0, true);
		zs_http_stream_feed(&s, NULL, 0, 1030, (const uint8_t *)t1 + 2, 16, false);
		CHECK(r.ncomplete == 0, "chunked ended early");
		zs_http_stream_feed(&s, NULL, 0, 100, (const uint8_t *)"yyyyyyyyy\r\n0\r\n\r\n", 16,
				    false);
		CHECK(r.ncomplete == 1, "chunked terminator in tail not found");
		/* Terminator split over two sends: "...\r\n0\r\n" then "\r\n". */
		zs_http_stream_feed(&s, (const uint8_t *)h, strlen(h), strlen(h), NULL, 0, true);
		zs_http_stream_feed(&s, (const uint8_t *)"3\r\nabc\r\n0\r\n", 11, 11, NULL, 0,
				    false);
		zs_http_stream_feed(&s, (const uint8_t *)"\r\n", 2, 2, NULL, 0, false);
		CHECK(r.ncomplete == 2, "split chunked terminator: %d", r.ncomplete);
		/* Empty chunked body. */
		zs_http_stream_feed(&s, (const uint8_t *)h, strlen(h), strlen(h), NULL, 0, true);
		zs_http_stream_feed(&s, (const uint8_t *)"0\r\n\r\n", 5, 5, NULL, 0, false);
		CHECK(r.ncomplete == 3, "empty chunked body: %d", r.ncomplete);
	}
	zs_http_stream_free(&s);

	/* HEAD, 204, 304, 1xx have no body whatever their headers say. */
	memset(&r, 0, sizeof(r));
	zs_http_stream_init(&s, false, 16384, &ops, &r);
	{
		const char *a = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n";
		const char *b = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
				"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n";

		r.req_method = "HEAD";
		zs_http_stream_feed(&s, (const uint8_t *)a, strlen(a), strlen(a), NULL, 0, true);
		CHECK(r.ncomplete == 1, "HEAD response must have no body");
		r.req_method = "GET";
		zs_http_stream_feed(&s, (const uint8_t *)b, strlen(b), strlen(b), NULL, 0, true);
		CHECK(r.nmsg == 4 && r.ncomplete == 4, "1xx/204/304: %d %d", r.nmsg, r.ncomplete);
	}
	zs_http_stream_free(&s);

	/* Body delimited by close. */
	memset(&r, 0, sizeof(r));
	zs_http_stream_init(&s, false, 16384, &ops, &r);
	{
		const char *a = "HTTP/1.0 200 OK\r\n\r\nbody";

		zs_http_stream_feed(&s, (const uint8_t *)a, strlen(a), strlen(a), NULL, 0, true);
		CHECK(r.ncomplete == 0, "until-close body ended early");
		zs_http_stream_eof(&s);
		CHECK(r.ncomplete == 1, "until-close body not ended by eof");
	}
	zs_http_stream_free(&s);

	/* Header block larger than the capture: start line still reported. */
	memset(&r, 0, sizeof(r));
	zs_http_stream_init(&s, true, 64, &ops, &r);
	{
		const char *a = "GET /big HTTP/1.1\r\nX-Long: "
				"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

		zs_http_stream_feed(&s, (const uint8_t *)a, 64, strlen(a), NULL, 0, true);
		CHECK(r.nmsg == 1 && r.msg[0].truncated, "truncated block: %d", r.nmsg);
		CHECK_STR(r.msg[0].target, "/big");
		/* Then the next request resynchronises. */
		zs_http_stream_feed(&s, (const uint8_t *)get, strlen(get), strlen(get), NULL, 0,
				    true);
		CHECK(r.nmsg == 2, "no resync after truncated block");
	}
	zs_http_stream_free(&s);
	CHECK(zs_http_hold_used == 0, "hold not released: %zu", zs_http_hold_used);

	/* Garbage never crashes and is reported lost. */
	memset(&r, 0, sizeof(r));
	zs_http_stream_init(&s, true, 16384, &ops, &r);
	{
		uint8_t junk[4096];
		size_t i;

		for (i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 131 + 7);
		zs_http_stream_feed(&s, junk, sizeof(junk), sizeof(junk), NULL, 0, true);
		CHECK(r.nmsg == 0 && r.nlost == 1, "junk: %d %d", r.nmsg, r.nlost);
		zs_http_stream_feed(&s, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 18, NULL, 0,
				    true);
		CHECK(r.nmsg == 1, "no recovery after junk");
	}
	zs_http_stream_free(&s);

	/* Conflicting Content-Length is rejected (request smuggling). */
	memset(&r, 0, sizeof(r));
	zs_http_stream_init(&s, true, 16384, &ops, &r);
	{
		const char *a =
			"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";

		zs_http_stream_feed(&s, (const uint8_t *)a, strlen(a), strlen(a), NULL, 0, true);
		CHECK(r.nmsg == 0 && r.nlost == 1, "conflicting CL accepted");
	}
	zs_http_stream_free(&s);

	/* The parsers never read past len: every prefix is -2 or -1, never > len. */
	{
		const char *a = "HTTP/1.1 200 OK\r\nA: b\r\n\r\n";
		size_t l;

		for (l = 0; l < strlen(a); l++) {
			char *copy = malloc(l ? l : 1);
			int minor, status, rc;
			const char *reason;
			size_t rl, nh = 4;
			struct zs_http_header h[4];

			memcpy(copy, a, l);
			rc = zs_http_parse_response(copy, l, &minor, &status, &reason, &rl, h, &nh);
			CHECK(rc == -2, "prefix %zu gave %d", l, rc);
			free(copy);
		}
	}
}

/* ---- byte-at-a-time references for the word-wise header scanning ---- */

static bool ref_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The line end at p[*i] (CRLF or a bare LF): 0 and *i past it, -1, -2. */
static int ref_eol(const char *p, size_t len, size_t *i)
{
	if (p[*i] == '\r') {
		if (++*i >= len)
			return -2;
		if (p[*i] != '\n')
			return -1;
	}
	++*i;
	return 0;
}

/* The header block at p (after the start line): bytes consumed, -1 bad,
 * -2 incomplete; names and values as parse_headers gives them. */
static int ref_headers(const char *p, size_t len, struct zs_http_header *h, size_t *num)
{
	size_t i = 0, n = 0, cap = *num;

	for (;;) {
		size_t ns, ne, vs, ve;
		int r;

		if (i >= len)
			return -2;
		if (p[i] == '\r' || p[i] == '\n') {
			int r = ref_eol(p, len, &i);

			if (r)
				return r;
			break;
		}
		ns = i;
		while (i < len && ref_tchar((unsigned char)p[i]))
			i++;
		if (i >= len)
			return -2;
		if (p[i] != ':' || i == ns)
			return -1;
		ne = i++;
		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		vs = i;
		for (;;) {
			unsigned char c;

			if (i >= len)
				return -2;
			c = (unsigned char)p[i];
			if (c == '\r' || c == '\n')
				break;
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -1;
			i++;
		}
		ve = i;
		while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
			ve--;
		r = ref_eol(p, len, &i);
		if (r)
			return r;
		if (i >= len)
			return -2;
		if (p[i] == ' ' || p[i] == '\t')
			return -1;
		if (n < cap) {
			h[n].name = p + ns;
			h[n].name_len = ne - ns;
			h[n].value = p + vs;
			h[n].value_len = ve - vs;
		}
		n++;
	}
	*num = n < cap ? n : cap;
	return (int)i;
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/* Random header blocks, mostly well formed, with every byte class the word
 * tests tell apart placed at every offset: the parser must agree with the
 * byte-at-a-time reference on the outcome and on every name and value. */
static void test_header_words_random(void)
{
	static const char name_bytes[] = "abcxyzABCXYZ0189-_.!~|`^'";
	static const unsigned char odd[] = { ':',  ' ', '\t', '\r', '\n', 0x7f, 0x01, 0x80,
					     0xff, '(', '"',  '/',  '@',  '[',	'{',  '=' };
	int bad = 0, rounds = 20000, ok = 0;

	for (int r = 0; r < rounds; r++) {
		char buf[600];
		const char *start = "HTTP/1.1 200 OK\r\n";
		size_t at = strlen(start), nh = 8, rnh = 8, i;
		struct zs_http_header h[8], rh[8];
		int minor, status, rc, want;
		const char *reason;
		size_t rl;
		int lines = 1 + (int)rnd(5);

		memcpy(buf, start, at);
		for (int l = 0; l < lines; l++) {
			int nl = 1 + (int)rnd(20), vl = (int)rnd(30);

			for (int k = 0; k < nl; k++)
				buf[at++] = name_bytes[rnd(sizeof(name_bytes) - 1)];
			buf[at++] = ':';
			if (rnd(2))
				buf[at++] = rnd(4) ? ' ' : '\t';
			for (int k = 0; k < vl; k++)
				buf[at++] = (char)(rnd(8) ? 0x21 + rnd(94) : (rnd(2) ? ' ' : '\t'));
			buf[at++] = '\r';
			buf[at++] = '\n';
		}
		buf[at++] = '\r';
		buf[at++] = '\n';
		/* one odd byte somewhere in half the blocks */
		if (rnd(2)) {
			size_t pos = strlen(start) + rnd((uint32_t)(at - strlen(start)));

			buf[pos] = (char)odd[rnd(sizeof(odd))];
		}
		/* and a cut, now and then */
		if (!rnd(8))
			at = strlen(start) + rnd((uint32_t)(at - strlen(start)));
		want = ref_headers(buf + strlen(start), at - strlen(start), rh, &rnh);
		if (want >= 0)
			want += (int)strlen(start);
		rc = zs_http_parse_response(buf, at, &minor, &status, &reason, &rl, h, &nh);
		if (rc != want) {
			bad++;
			continue;
		}
		if (rc < 0)
			continue;
		ok++;
		if (nh != rnh) {
			bad++;
			continue;
		}
		for (i = 0; i < nh; i++)
			if (h[i].name != rh[i].name || h[i].name_len != rh[i].name_len ||
			    h[i].value != rh[i].value || h[i].value_len != rh[i].value_len)
				break;
		bad += i != nh;
	}
	CHECK(bad == 0, "%d of %d blocks parsed differently than byte by byte", bad, rounds);
	CHECK(ok > rounds / 4, "too few well-formed blocks (%d): the test lost its point", ok);
}

/* Header names in random case, and near misses of the same length (one byte
 * changed, '-' swapped for '_'), against a strncasecmp reference. */
static void test_header_names_random(void)
{
	/* and where each copies its value (0: checked apart; upgrade alone sets
	 * nothing to see) */
	static const struct {
		const char *lit;
		size_t copied_to;
	} names[] = {
		{ "content-length", 0 },
		{ "transfer-encoding", 0 },
		{ "connection", 0 },
		{ "upgrade", 0 },
		{ "host", offsetof(struct zs_http_msg, host) },
		{ "user-agent", offsetof(struct zs_http_msg, user_agent) },
		{ "traceparent", offsetof(struct zs_http_msg, traceparent) },
		{ "tracestate", offsetof(struct zs_http_msg, tracestate) },
		{ "b3", offsetof(struct zs_http_msg, b3) },
		{ "x-b3-traceid", offsetof(struct zs_http_msg, b3_trace) },
		{ "x-b3-spanid", offsetof(struct zs_http_msg, b3_span) },
		{ "x-b3-sampled", offsetof(struct zs_http_msg, b3_sampled) },
		{ "x-b3-flags", offsetof(struct zs_http_msg, b3_flags) },
	};
	static const char *conn[] = {
		"close",  "keep-alive", "upgrade",	  "Keep-Alive, Upgrade", " close ,foo",
		"closed", "upgrade-x",	",,KEEP-ALIVE,,", "te, close",		 "keep-alive\tx"
	};
	int bad = 0;

	for (int r = 0; r < 20000; r++) {
		size_t i = rnd(sizeof(names) / sizeof(names[0]));
		const char *lit = names[i].lit;
		size_t n = strlen(lit);
		char name[32], value[32];
		struct zs_http_header h;
		struct zs_http_msg m;
		bool want;

		memcpy(name, lit, n + 1);
		for (size_t k = 0; k < n; k++)
			if (rnd(2))
				name[k] = (char)toupper((unsigned char)name[k]);
		if (rnd(2)) { /* a near miss */
			size_t k = rnd((uint32_t)n);

			name[k] = name[k] == '-' ? '_' : (char)(name[k] + 1 + rnd(3));
		}
		want = strncasecmp(name, lit, n) == 0;
		if (!strcmp(lit, "content-length"))
			strcpy(value, "42");
		else if (!strcmp(lit, "connection"))
			strcpy(value, conn[rnd(sizeof(conn) / sizeof(conn[0]))]);
		else if (!strcmp(lit, "transfer-encoding"))
			strcpy(value, "gzip, chunked");
		else
			strcpy(value, "v");
		h.name = name;
		h.name_len = n;
		h.value = value;
		h.value_len = strlen(value);
		memset(&m, 0, sizeof(m));
		if (zs_http_msg_from_headers(&m, &h, 1)) {
			bad += want; /* only a content-length of 42 is there to take */
			continue;
		}
		if (!strcmp(lit, "content-length"))
			bad += (m.content_length == 42) != want;
		else if (!strcmp(lit, "transfer-encoding"))
			bad += m.chunked != want;
		else if (!strcmp(lit, "connection"))
			bad += (m.conn_close != (want && (!strcmp(value, "close") ||
							  !strcmp(value, " close ,foo") ||
							  !strcmp(value, "te, close")))) ||
			       (m.conn_keep_alive !=
				(want && (!strcasecmp(value, "keep-alive") ||
					  !strcmp(value, "Keep-Alive, Upgrade") ||
					  !strcmp(value, ",,KEEP-ALIVE,,"))));
		else if (names[i].copied_to) /* the value copied out, or not */
			bad += (((const char *)&m)[names[i].copied_to] != 0) != want;
	}
	CHECK(bad == 0, "%d header names matched differently than strncasecmp", bad);
	{
		/* Upgrade needs both the header and the Connection option */
		struct zs_http_header h[2] = { { "Connection", 10, "keep-alive, UPGRADE", 19 },
					       { "UPGRADE", 7, "websocket", 9 } };
		struct zs_http_msg m;

		memset(&m, 0, sizeof(m));
		CHECK(zs_http_msg_from_headers(&m, h, 2) == 0 && m.upgrade && m.conn_keep_alive &&
			      !m.conn_close,
		      "connection options");
	}
}

int main(int argc, char **argv)
{
	test_edge_cases();
	test_value_words();
	test_header_words_random();
	test_header_names_random();
	if (argc > 1)
		run_corpus(argv[1]);
	else
		CHECK(0, "usage: test_http1 CORPUS_FIXTURE");
	return zs_test_done("test_http1");
}
