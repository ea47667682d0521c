// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/1.x header-block parsers and the per-direction message framer. */
#include "http1.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

size_t zs_http_hold_limit = 16u << 20;
size_t zs_http_hold_used;

/* RFC 9110 tchar. */
static const uint8_t tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
	['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
	['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
	['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
	['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
	['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
	['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
	['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* A cursor over [p, end): every read checks end first. */
struct cur {
	const char *p;
	const char *end;
};

#define NEED(c)                         \
	do {                            \
		if ((c)->p >= (c)->end) \
			return -2;      \
	} while (0)

/* Consumes a line end: CRLF (bare LF accepted, as most servers do). Inline,
 * CRLF tested first: once or twice per header line. */
static inline __attribute__((always_inline)) int eat_eol(struct cur *c)
{
	if (__builtin_expect(c->end - c->p >= 2 && c->p[0] == '\r' && c->p[1] == '\n', 1)) {
		c->p += 2;
		return 0;
	}
	NEED(c);
	if (*c->p == '\r') {
		c->p++;
		NEED(c);
		if (*c->p != '\n')
			return -1;
		c->p++;
		return 0;
	}
	if (*c->p == '\n') {
		c->p++;
		return 0;
	}
	return -1;
}

/* "HTTP/1.x" */
static int parse_version(struct cur *c, int *minor)
{
	static const char pfx[] = "HTTP/1.";
	size_t i;

	/* all eight bytes there: one comparison (the loop below tells a short
	 * buffer, -2, from a wrong one, -1) */
	if (c->end - c->p >= 8) {
		if (memcmp(c->p, pfx, 7) != 0 || c->p[7] < '0' || c->p[7] > '9')
			return -1;
		*minor = c->p[7] - '0';
		c->p += 8;
		return 0;
	}
	for (i = 0; i < sizeof(pfx) - 1; i++) {
		NEED(c);
		if (*c->p++ != pfx[i])
			return -1;
	}
	NEED(c);
	if (*c->p < '0' || *c->p > '9')
		return -1;
	*minor = *c->p++ - '0';
	return 0;
}

/* Bit 7 of each byte of v (all below 0x80) set where lo <= byte <= hi. */
static inline uint64_t swar_in(uint64_t v, uint8_t lo, uint8_t hi)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;

	return (v + ones * (0x80 - lo)) & ~(v + ones * (0x7f - hi)) & high;
}

/* How many bytes from p are letters, digits or '-' (what header names are
 * made of), counted 8 at a time; the byte loop finishes the name (and checks
 * any other tchar). */
static inline size_t name_run(const char *p, const char *end)
{
	const uint64_t high = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
	size_t n = 0;

	while (end - p - (ptrdiff_t)n >= 8) {
		uint64_t v, ok;

		memcpy(&v, p + n, 8);
		if (v & high)
			break;
		ok = swar_in(v | ones * 0x20, 'a', 'z') | swar_in(v, '0', '9') |
		     swar_in(v, '-', '-');
		if (ok != high)
			return n + (size_t)__builtin_ctzll(~ok & high) / 8;
		n += 8;
	}
	return n;
}

static int parse_headers(struct cur *c, struct zs_http_header *h, size_t *num)
{
	size_t cap = *num, n = 0;

	for (;;) {
		const char *name, *value, *vend;
		int r;

		NEED(c);
		if (*c->p == '\r' || *c->p == '\n') {
			r = eat_eol(c);
			if (r)
				return r;
			break;
		}
		name = c->p;
		c->p += name_run(c->p, c->end);
		while (c->p < c->end && tchar[(uint8_t)*c->p])
			c->p++;
		NEED(c);
		if (*c->p != ':' || c->p == name)
			return -1; /* empty name, bad char, or whitespace before ':' */
		{
			size_t name_len = (size_t)(c->p - name);

			c->p++;
			while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
				c->p++;
			value = c->p;
			/* 8 bytes at a time while none is a control byte (tab
			 * included) or DEL: most of a value, dates and product
			 * lists with their spaces too; the byte loop below takes
			 * over at the first word that has one. */
			while (c->end - c->p >= 8) {
				uint64_t v, m;

				memcpy(&v, c->p, 8);
				m = ((v - 0x2020202020202020ULL) & ~v & 0x8080808080808080ULL) |
				    (((v ^ 0x7f7f7f7f7f7f7f7fULL) - 0x0101010101010101ULL) &
				     ~(v ^ 0x7f7f7f7f7f7f7f7fULL) & 0x8080808080808080ULL);
				if (m) {
					/* The lowest flagged byte is the first such byte
					 * (a borrow only flags bytes above one, little-
					 * endian): the byte loop starts there. */
					c->p += __builtin_ctzll(m) / 8;
					break;
				}
				c->p += 8;
			}
			for (;;) {
				uint8_t ch;

				NEED(c);
				ch = (uint8_t)*c->p;
				if (ch == '\r' || ch == '\n')
					break;
				if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
					return -1;
				c->p++;
			}
			/* trailing whitespace is not part of the value */
			vend = c->p;
			while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t'))
				vend--;
			r = eat_eol(c);
			if (r)
				return r;
			/* obs-fold (RFC 9112 5.2): rejected, as a proxy may. */
			NEED(c);
			if (*c->p == ' ' || *c->p == '\t')
				return -1;
			if (n < cap) {
				h[n].name = name;
				h[n].name_len = name_len;
				h[n].value = value;
				h[n].value_len = (size_t)(vend - value);
			}
			n++;
		}
	}
	*num = n < cap ? n : cap;
	return 0;
}

int zs_http_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
			  const char **target, size_t *target_len, int *minor_version,
			  struct zs_http_header *headers, size_t *num_headers)
{
	struct cur c = { buf, buf + len };
	int r;

	/* Tolerate empty lines before a request (RFC 9112 2.2). */
	while (c.p < c.end && (*c.p == '\r' || *c.p == '\n'))
		c.p++;
	*method = c.p;
	while (c.p < c.end && tchar[(uint8_t)*c.p])
		c.p++;
	NEED(&c);
	if (*c.p != ' ' || c.p == *method)
		return -1;
	*method_len = (size_t)(c.p - *method);
	c.p++;
	*target = c.p;
	for (;;) {
		uint8_t ch;

		NEED(&c);
		ch = (uint8_t)*c.p;
		if (ch == ' ')
			break;
		if (ch <= 0x20 || ch == 0x7f)
			return -1;
		c.p++;
	}
	*target_len = (size_t)(c.p - *target);
	if (*target_len == 0)
		return -1;
	c.p++;
	r = parse_version(&c, minor_version);
	if (r)
		return r;
	r = eat_eol(&c);
	if (r)
		return r;
	r = parse_headers(&c, headers, num_headers);
	if (r)
		return r;
	return (int)(c.p - buf);
}

int zs_http_parse_response(const char *buf, size_t len, int *minor_version, int *status,
			   const char **reason, size_t *reason_len, struct zs_http_header *headers,
			   size_t *num_headers)
{
	struct cur c = { buf, buf + len };
	int r, i;

	r = parse_version(&c, minor_version);
	if (r)
		return r;
	NEED(&c);
	if (*c.p++ != ' ')
		return -1;
	*status = 0;
	for (i = 0; i < 3; i++) {
		NEED(&c);
		if (*c.p < '0' || *c.p > '9')
			return -1;
		*status = *status * 10 + (*c.p++ - '0');
	}
	NEED(&c);
	*reason = c.p;
	if (*c.p == ' ') {
		c.p++;
		*reason = c.p;
		for (;;) {
			uint8_t ch;

			NEED(&c);
			ch = (uint8_t)*c.p;
			if (ch == '\r' || ch == '\n')
				break;
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return -1;
			c.p++;
		}
	} else if (*c.p != '\r' && *c.p != '\n') {
		return -1;
	}
	*reason_len = (size_t)(c.p - *reason);
	r = eat_eol(&c);
	if (r)
		return r;
	r = parse_headers(&c, headers, num_headers);
	if (r)
		return r;
	return (int)(c.p - buf);
}

/* Do the n bytes at p equal lit (lowercase) ignoring ASCII case? Inline: the
 * C library's strncasecmp goes through the locale's tables, a call per
 * header name compared. */
static inline bool ascii_ieq(const char *p, const char *lit, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t c = (uint8_t)p[i];

		if ((unsigned int)(c - 'A') < 26u)
			c += 'a' - 'A';
		if (c != (uint8_t)lit[i])
			return false;
	}
	return true;
}

/* Is the header's name lit (lowercase letters, digits and '-' only), ignoring
 * ASCII case? A word at a time: a name holds only tchar bytes (parse_headers
 * checked), and among those only A-Z, a-z and the literal's own byte become a
 * literal's byte once 0x20 is set. Always inlined: lit's length and words
 * fold at compile time. */
static inline __attribute__((always_inline)) bool name_is(const struct zs_http_header *h,
							  const char *lit)
{
	const uint64_t m8 = 0x2020202020202020ULL;
	size_t n = strlen(lit), i;
	uint64_t a, b;
	uint32_t c, d;
	uint16_t e, f;

	if (h->name_len != n)
		return false;
	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&a, h->name + i, 8);
		memcpy(&b, lit + i, 8);
		if ((a | m8) != b)
			return false;
	}
	if (i == n)
		return true;
	if (n >= 8) { /* the last 8 bytes, overlapping the words compared */
		memcpy(&a, h->name + n - 8, 8);
		memcpy(&b, lit + n - 8, 8);
		return (a | m8) == b;
	}
	if (n >= 4) {
		memcpy(&c, h->name, 4);
		memcpy(&d, lit, 4);
		if ((c | (uint32_t)m8) != d)
			return false;
		memcpy(&c, h->name + n - 4, 4);
		memcpy(&d, lit + n - 4, 4);
		return (c | (uint32_t)m8) == d;
	}
	if (n >= 2) {
		memcpy(&e, h->name, 2);
		memcpy(&f, lit, 2);
		if ((e | (uint16_t)m8) != f)
			return false;
		memcpy(&e, h->name + n - 2, 2);
		memcpy(&f, lit + n - 2, 2);
		return (e | (uint16_t)m8) == f;
	}
	return ((uint8_t)h->name[0] | 0x20) == (uint8_t)lit[0];
}

static void copy_value(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Is token the last element of the comma-separated list (case-insensitive)? */
static bool list_last_is(const char *v, size_t len, const char *token)
{
	size_t tl = strlen(token), e = len, s;

	while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == ','))
		e--;
	s = e;
	while (s > 0 && v[s - 1] != ',')
		s--;
	while (s < e && (v[s] == ' ' || v[s] == '\t'))
		s++;
	return e - s == tl && ascii_ieq(v + s, token, tl);
}

/* The Connection header's options (RFC 9110 7.6.1) that matter here, in one
 * pass over its comma-separated list. */
static void connection_options(const char *v, size_t len, struct zs_http_msg *m, bool *upgrade)
{
	size_t i = 0;

	while (i < len) {
		size_t s, e;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == 5 && ascii_ieq(v + s, "close", 5))
			m->conn_close = true;
		else if (e - s == 10 && ascii_ieq(v + s, "keep-alive", 10))
			m->conn_keep_alive = true;
		else if (e - s == 7 && ascii_ieq(v + s, "upgrade", 7))
			*upgrade = true;
	}
}

static void b3_multi_header(struct zs_http_msg *m, const struct zs_http_header *h)
{
	if (name_is(h, "x-b3-traceid"))
		copy_value(m->b3_trace, sizeof(m->b3_trace), h->value, h->value_len);
	else if (name_is(h, "x-b3-spanid"))
		copy_value(m->b3_span, sizeof(m->b3_span), h->value, h->value_len);
	else if (name_is(h, "x-b3-sampled"))
		copy_value(m->b3_sampled, sizeof(m->b3_sampled), h->value, h->value_len);
	else if (name_is(h, "x-b3-flags"))
		copy_value(m->b3_flags, sizeof(m->b3_flags), h->value, h->value_len);
}

int zs_http_msg_from_headers(struct zs_http_msg *m, const struct zs_http_header *h, size_t n)
{
	bool conn_upgrade = false, upgrade_hdr = false;
	size_t i;

	m->content_length = -1;
	m->num_headers = (uint32_t)n;
	for (i = 0; i < n; i++) {
		if (name_is(&h[i], "content-length")) {
			int64_t v = 0;
			size_t k;

			if (h[i].value_len == 0 || h[i].value_len > 18)
				return -1;
			for (k = 0; k < h[i].value_len; k++) {
				if (h[i].value[k] < '0' || h[i].value[k] > '9')
					return -1;
				v = v * 10 + (h[i].value[k] - '0');
			}
			if (m->content_length >= 0 && m->content_length != v)
				return -1;
			m->content_length = v;
		} else if (name_is(&h[i], "transfer-encoding")) {
			m->te_present = true;
			/* chunked must be the final coding (RFC 9112 6.1). */
			m->chunked = list_last_is(h[i].value, h[i].value_len, "chunked");
		} else if (name_is(&h[i], "connection")) {
			connection_options(h[i].value, h[i].value_len, m, &conn_upgrade);
		} else if (name_is(&h[i], "upgrade")) {
			upgrade_hdr = true;
		} else if (name_is(&h[i], "host")) {
			copy_value(m->host, sizeof(m->host), h[i].value, h[i].value_len);
		} else if (name_is(&h[i], "user-agent")) {
			copy_value(m->user_agent, sizeof(m->user_agent), h[i].value,
				   h[i].value_len);
		} else if (name_is(&h[i], "traceparent")) {
			/* A second traceparent makes both invalid (W3C Trace Context 3.2). */
			if (m->traceparent[0])
				strcpy(m->traceparent, "!duplicate");
			else
				copy_value(m->traceparent, sizeof(m->traceparent), h[i].value,
					   h[i].value_len);
		} else if (name_is(&h[i], "tracestate")) {
			/* Several tracestate headers form one list (W3C 3.3.1.1). */
			size_t have = strlen(m->tracestate);

			if (have + 1 + h[i].value_len >= sizeof(m->tracestate)) {
				m->tracestate_overflow = true;
			} else {
				if (have)
					m->tracestate[have++] = ',';
				copy_value(m->tracestate + have, sizeof(m->tracestate) - have,
					   h[i].value, h[i].value_len);
			}
		} else if (name_is(&h[i], "b3")) {
			copy_value(m->b3, sizeof(m->b3), h[i].value, h[i].value_len);
		} else if (h[i].name_len > 5 && ascii_ieq(h[i].name, "x-b3-", 5)) {
			b3_multi_header(m, &h[i]);
		}
	}
	m->upgrade = conn_upgrade && upgrade_hdr;
	/* Transfer-Encoding wins over Content-Length (RFC 9112 6.3 item 3). */
	if (m->chunked)
		m->content_length = -1;
	return 0;
}

enum zs_http_body zs_http_request_body(const struct zs_http_msg *req)
{
	/* What follows CONNECT or an Upgrade request is not HTTP/1.x unless the
	 * response refuses it; the caller resumes the stream if so. */
	if (req->upgrade || strcmp(req->method, "CONNECT") == 0)
		return ZS_BODY_TUNNEL;
	if (req->chunked)
		return ZS_BODY_CHUNKED;
	/* Transfer-Encoding without final chunked: length unknown (RFC 9112 6.3). */
	if (req->te_present)
		return ZS_BODY_UNTIL_CLOSE;
	if (req->content_length > 0)
		return ZS_BODY_LENGTH;
	return ZS_BODY_NONE;
}

enum zs_http_body zs_http_response_body(const struct zs_http_msg *resp, const char *request_method)
{
	if (resp->status == 101)
		return ZS_BODY_TUNNEL;
	if (request_method && strcmp(request_method, "HEAD") == 0)
		return ZS_BODY_NONE;
	if (resp->status / 100 == 1 || resp->status == 204 || resp->status == 304)
		return ZS_BODY_NONE;
	if (request_method && strcmp(request_method, "CONNECT") == 0 && resp->status / 100 == 2)
		return ZS_BODY_TUNNEL;
	if (resp->chunked)
		return ZS_BODY_CHUNKED;
	if (resp->content_length >= 0)
		return resp->content_length ? ZS_BODY_LENGTH : ZS_BODY_NONE;
	return ZS_BODY_UNTIL_CLOSE;
}

/* ---- stream framing ---- */

void zs_http_stream_init(struct zs_http_stream *s, bool parse_requests, size_t hmax,
			 const struct zs_http_stream_ops *ops, void *user)
{
	memset(s, 0, sizeof(*s));
	s->parse_requests = parse_requests;
	s->hmax = hmax;
	s->ops = ops;
	s->user = user;
}

static void hold_release(struct zs_http_stream *s)
{
	if (s->hbuf) {
		zs_http_hold_used -= s->hmax;
		free(s->hbuf);
		s->hbuf = NULL;
	}
	s->hlen = 0;
}

void zs_http_stream_free(struct zs_http_stream *s)
{
	hold_release(s);
}

void zs_http_stream_reset(struct zs_http_stream *s)
{
	hold_release(s);
	s->state = ZS_HS_RESYNC;
	s->win_len = 0;
}

void zs_http_stream_untunnel(struct zs_http_stream *s)
{
	if (s->state == ZS_HS_TUNNEL)
		s->state = ZS_HS_IDLE;
}

static void lost(struct zs_http_stream *s, const char *why)
{
	zs_http_stream_reset(s);
	if (s->ops->on_lost)
		s->ops->on_lost(s->user, why);
}

/* Parses a complete-or-not header block; fills msg. Same return contract. */
static int parse_block(struct zs_http_stream *s, const char *buf, size_t len, struct zs_http_msg *m,
		       struct zs_http_header *h, size_t *nh)
{
	int r;

	memset(m, 0, sizeof(*m));
	*nh = ZS_HTTP_MAX_HEADERS;
	m->is_request = s->parse_requests;
	if (s->parse_requests) {
		const char *meth, *tgt;
		size_t ml, tl;

		r = zs_http_parse_request(buf, len, &meth, &ml, &tgt, &tl, &m->minor_version, h,
					  nh);
		if (r > 0) {
			copy_value(m->method, sizeof(m->method), meth, ml);
			copy_value(m->target, sizeof(m->target), tgt, tl);
		}
	} else {
		const char *reason;
		size_t rl;

		r = zs_http_parse_response(buf, len, &m->minor_version, &m->status, &reason, &rl, h,
					   nh);
	}
	if (r > 0) {
		m->header_bytes = (uint32_t)r;
		if (zs_http_msg_from_headers(m, h, *nh))
			return -1;
	}
	return r;
}

/* The header block outgrew the capture: report what its first line says. */
static void headers_truncated(struct zs_http_stream *s, const char *buf, size_t len)
{
	struct zs_http_msg m;
	const char *eol = memchr(buf, '\n', len);

	memset(&m, 0, sizeof(m));
	m.is_request = s->parse_requests;
	m.truncated = true;
	m.content_length = -1;
	if (eol) {
		/* Parse the start line alone by giving it an empty header block. */
		char line[ZS_HTTP_TARGET_MAX + 64];
		size_t ll = (size_t)(eol - buf) + 1, nh = 0;
		int r;

		if (ll + 2 <= sizeof(line)) {
			memcpy(line, buf, ll);
			memcpy(line + ll, "\r\n", 2);
			if (s->parse_requests) {
				const char *meth, *tgt;
				size_t ml, tl;

				r = zs_http_parse_request(line, ll + 2, &meth, &ml, &tgt, &tl,
							  &m.minor_version, NULL, &nh);
				if (r > 0) {
					copy_value(m.method, sizeof(m.method), meth, ml);
					copy_value(m.target, sizeof(m.target), tgt, tl);
				}
			} else {
				const char *reason;
				size_t rl;

				r = zs_http_parse_response(line, ll + 2, &m.minor_version,
							   &m.status, &reason, &rl, NULL, &nh);
			}
			if (r > 0) {
				hold_release(s);
				s->ops->on_headers(s->user, &m, NULL, 0);
				s->ops->on_complete(s->user);
				s->state = ZS_HS_RESYNC;
				return;
			}
		}
	}
	lost(s, "header block larger than the capture size");
}

static void win_push(struct zs_http_stream *s, const uint8_t *b, size_t n)
{
	if (n >= sizeof(s->win)) {
		memcpy(s->win, b + n - sizeof(s->win), sizeof(s->win));
		s->win_len = sizeof(s->win);
		return;
	}
	if (s->win_len + n > sizeof(s->win)) {
		size_t drop = s->win_len + n - sizeof(s->win);

		memmove(s->win, s->win + drop, s->win_len - drop);
		s->win_len -= (uint8_t)drop;
	}
	memcpy(s->win + s->win_len, b, n);
	s->win_len += (uint8_t)n;
}

/* The last-chunk of a chunked body: "0" CRLF (no trailers) CRLF, preceded by
 * the previous chunk's CRLF or nothing. Chunk extensions and trailers are not
 * recognised when the body bytes themselves were not captured. */
static bool chunked_done(const struct zs_http_stream *s)
{
	static const char end[] = "\r\n0\r\n\r\n";

	if (s->win_len >= 7 && memcmp(s->win + s->win_len - 7, end, 7) == 0)
		return true;
	return s->win_len == 5 && memcmp(s->win, end + 2, 5) == 0;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Runs the chunked decoder over visible body bytes. Returns the bytes used
 * up to and including the end of the body, or -2 when all were used and the
 * body goes on, or -1 for a malformed body.
 */
static int64_t chunked_feed(struct zs_http_stream *s, const uint8_t *b, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = b[i];

		switch (s->ch) {
		case ZS_CH_SIZE: {
			int v = hexval(c);

			if (v >= 0) {
				if (s->ch_left >> 56)
					return -1;
				s->ch_left = s->ch_left * 16 + (uint64_t)v;
				s->ch_size_digits = true;
				i++;
				break;
			}
			if (!s->ch_size_digits)
				return -1;
			if (c == ';' || c == ' ' || c == '\t') {
				s->ch = ZS_CH_EXT;
				i++;
				break;
			}
			if (c == '\r') {
				s->ch = ZS_CH_EXT;
				i++;
				break;
			}
			if (c != '\n')
				return -1;
			__attribute__((fallthrough));
		}
		case ZS_CH_EXT:
			i++;
			if (c != '\n')
				break;
			s->ch_size_digits = false;
			s->ch = s->ch_left ? ZS_CH_DATA : ZS_CH_TRAILER_START;
			break;
		case ZS_CH_DATA: {
			uint64_t take = n - i < s->ch_left ? n - i : s->ch_left;

			i += take;
			s->ch_left -= take;
			if (!s->ch_left)
				s->ch = ZS_CH_DATA_CR;
			break;
		}
		case ZS_CH_DATA_CR:
			i++;
			if (c == '\r')
				s->ch = ZS_CH_DATA_LF;
			else if (c == '\n')
				s->ch = ZS_CH_SIZE;
			else
				return -1;
			break;
		case ZS_CH_DATA_LF:
			i++;
			if (c != '\n')
				return -1;
			s->ch = ZS_CH_SIZE;
			break;
		case ZS_CH_TRAILER_START:
			i++;
			if (c == '\r') {
				s->ch = ZS_CH_LAST_LF;
				break;
			}
			if (c == '\n')
				return (int64_t)i;
			s->ch = ZS_CH_TRAILER_LINE;
			break;
		case ZS_CH_LAST_LF:
			i++;
			if (c != '\n')
				return -1;
			return (int64_t)i;
		case ZS_CH_TRAILER_LINE:
			i++;
			if (c == '\n')
				s->ch = ZS_CH_TRAILER_START;
			break;
		case ZS_CH_LOST:
			return -2;
		}
	}
	return -2;
}

static void begin_body(struct zs_http_stream *s, enum zs_http_body body, int64_t cl)
{
	s->win_len = 0;
	switch (body) {
	case ZS_BODY_NONE:
		s->state = ZS_HS_IDLE;
		s->ops->on_complete(s->user);
		break;
	case ZS_BODY_LENGTH:
		s->state = ZS_HS_BODY_LENGTH;
		s->body_left = (uint64_t)cl;
		break;
	case ZS_BODY_CHUNKED:
		s->state = ZS_HS_BODY_CHUNKED;
		s->ch = ZS_CH_SIZE;
		s->ch_left = 0;
		s->ch_size_digits = false;
		break;
	case ZS_BODY_TUNNEL:
		s->state = ZS_HS_TUNNEL;
		s->ops->on_complete(s->user);
		break;
	case ZS_BODY_UNTIL_CLOSE:
		s->state = ZS_HS_BODY_CLOSE;
		break;
	}
}

void zs_http_stream_feed(struct zs_http_stream *s, const uint8_t *vis, size_t vis_len,
			 uint64_t total, const uint8_t *tail, size_t tail_len, bool start)
{
	struct zs_http_header h[ZS_HTTP_MAX_HEADERS];
	struct zs_http_msg m;
	uint64_t off = 0;
	size_t nh;

	if (vis_len > total)
		vis_len = (size_t)total;
	if (tail_len > total)
		tail_len = (size_t)total;
	while (off < total) {
		switch (s->state) {
		case ZS_HS_RESYNC:
			if (off == 0 && start && vis_len > 0) {
				s->state = ZS_HS_IDLE;
				continue;
			}
			return;
		case ZS_HS_IDLE:
			if (off >= vis_len) {
				lost(s, "message start not captured");
				return;
			}
			/* Skip the empty lines a client may send between messages. */
			while (off < vis_len && (vis[off] == '\r' || vis[off] == '\n'))
				off++;
			if (off == total)
				return;
			if (off >= vis_len)
				continue;
			s->state = ZS_HS_HEADERS;
			s->hlen = 0;
			continue;
		case ZS_HS_HEADERS: {
			size_t avail = off < vis_len ? vis_len - (size_t)off : 0;
			const char *blk;
			size_t blen, prev = s->hlen;
			int r;

			if (avail == 0) {
				headers_truncated(s, s->hbuf ? s->hbuf : "", s->hlen);
				return;
			}
			if (s->hlen == 0) {
				/* Common case: the whole block is in this chunk, parse in place. */
				blk = (const char *)vis + off;
				blen = avail;
			} else {
				size_t take = avail;

				if (take > s->hmax - s->hlen)
					take = s->hmax - s->hlen;
				memcpy(s->hbuf + s->hlen, vis + off, take);
				s->hlen += take;
				blk = s->hbuf;
				blen = s->hlen;
			}
			r = parse_block(s, blk, blen, &m, h, &nh);
			if (r == -1) {
				lost(s, "malformed header block");
				return;
			}
			if (r == -2) {
				if (blen >= s->hmax) {
					headers_truncated(s, blk, blen);
					return;
				}
				if (s->hlen == 0) {
					if (zs_http_hold_used + s->hmax > zs_http_hold_limit) {
						lost(s, "header hold memory limit reached");
						return;
					}
					s->hbuf = malloc(s->hmax);
					if (!s->hbuf) {
						lost(s, "out of memory");
						return;
					}
					zs_http_hold_used += s->hmax;
					if (avail > s->hmax)
						avail = s->hmax;
					memcpy(s->hbuf, vis + off, avail);
					s->hlen = avail;
				}
				if (vis_len < total) {
					/* Bytes after the visible part: the capture ran out
					 * mid-header. */
					headers_truncated(s, s->hbuf, s->hlen);
					return;
				}
				return;
			}
			off += (uint64_t)r - prev;
			{
				enum zs_http_body body = s->ops->on_headers(s->user, &m, h, nh);

				hold_release(s);
				begin_body(s, body, m.content_length);
			}
			continue;
		}
		case ZS_HS_BODY_LENGTH: {
			uint64_t n = total - off;

			if (n > s->body_left)
				n = s->body_left;
			off += n;
			s->body_left -= n;
			if (s->body_left == 0) {
				s->state = ZS_HS_IDLE;
				s->ops->on_complete(s->user);
			}
			continue;
		}
		case ZS_HS_BODY_CHUNKED:
			if (s->ch != ZS_CH_LOST) {
				/* Exact decoding while the bytes are visible. */
				if (off < vis_len) {
					int64_t r =
						chunked_feed(s, vis + off, vis_len - (size_t)off);

					if (r == -1) {
						lost(s, "malformed chunked body");
						return;
					}
					if (r >= 0) {
						off += (uint64_t)r;
						s->state = ZS_HS_IDLE;
						s->ops->on_complete(s->user);
						continue;
					}
					win_push(s, vis + off, vis_len - (size_t)off);
					off = vis_len;
				}
				if (off == total)
					return;
				/* Unseen bytes: fine inside chunk data, else fall back. */
				if (s->ch == ZS_CH_DATA && s->ch_left >= total - off) {
					s->ch_left -= total - off;
					if (!s->ch_left)
						s->ch = ZS_CH_DATA_CR;
					s->win_len = 0;
					win_push(s, tail, tail_len);
					return;
				}
				s->ch = ZS_CH_LOST;
			}
			/* Heuristic: the body's last known bytes end with the last-chunk. */
			if (off < vis_len)
				win_push(s, vis + off, vis_len - (size_t)off);
			if (vis_len < total) {
				uint64_t tail_from = total - tail_len;

				if (tail_from > vis_len || off > vis_len) {
					/* Unseen bytes lie between: only the tail is contiguous. */
					s->win_len = 0;
					win_push(s, tail, tail_len);
				} else {
					size_t skip = (size_t)(vis_len - tail_from);

					win_push(s, tail + skip, tail_len - skip);
				}
			}
			if (chunked_done(s)) {
				s->state = ZS_HS_IDLE;
				s->ops->on_complete(s->user);
			}
			return;
		case ZS_HS_BODY_CLOSE:
		case ZS_HS_TUNNEL:
			return;
		}
	}
}

void zs_http_stream_eof(struct zs_http_stream *s)
{
	if (s->state == ZS_HS_BODY_CLOSE) {
		s->state = ZS_HS_IDLE;
		s->ops->on_complete(s->user);
	}
	hold_release(s);
}
