// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "context.h"

#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase is invalid in traceparent (W3C 3.2.2) and B3 */
}

/* n lowercase hex digits into n/2 bytes; -1 on any other character. */
static int hex_bytes(const char *s, size_t n, uint8_t *out)
{
	size_t i;

	for (i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

int zs_traceparent_parse(const char *v, size_t len, struct zs_trace_ctx *out)
{
	uint8_t ver;

	/* version "-" trace-id(32) "-" parent-id(16) "-" flags(2): 55 chars */
	if (len < 55 || hex_bytes(v, 2, &ver) || ver == 0xff)
		return -1;
	/* Version 00 is exactly 55 chars; a later version may append fields
	 * after a dash, which we ignore (W3C 3.2.4, "future versions"). */
	if ((ver == 0 && len != 55) || (len > 55 && v[55] != '-'))
		return -1;
	if (v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -1;
	if (hex_bytes(v + 3, 32, out->trace_id) || hex_bytes(v + 36, 16, out->span_id) ||
	    hex_bytes(v + 53, 2, &out->flags))
		return -1;
	if (all_zero(out->trace_id, 16) || all_zero(out->span_id, 8))
		return -1;
	if (ver != 0)
		out->flags &= ZS_FLAG_SAMPLED; /* only the flags version 00 defines */
	return 0;
}

void zs_traceparent_format(const struct zs_trace_ctx *c, char out[56])
{
	static const char d[] = "0123456789abcdef";
	char *p = out;
	int i;

	*p++ = '0';
	*p++ = '0';
	*p++ = '-';
	for (i = 0; i < 16; i++) {
		*p++ = d[c->trace_id[i] >> 4];
		*p++ = d[c->trace_id[i] & 15];
	}
	*p++ = '-';
	for (i = 0; i < 8; i++) {
		*p++ = d[c->span_id[i] >> 4];
		*p++ = d[c->span_id[i] & 15];
	}
	*p++ = '-';
	*p++ = d[c->flags >> 4];
	*p++ = d[c->flags & 15];
	*p = 0;
}

/* A 64- or 128-bit B3 trace id, 64-bit ones zero-extended. */
static int b3_trace_id(const char *s, size_t n, uint8_t out[16])
{
	memset(out, 0, 16);
	if (n != 16 && n != 32)
		return -1;
	if (hex_bytes(s, n, out + 16 - n / 2))
		return -1;
	return all_zero(out, 16) ? -1 : 0;
}

static int b3_span_id(const char *s, size_t n, uint8_t out[8])
{
	if (n != 16 || hex_bytes(s, 16, out))
		return -1;
	return all_zero(out, 8) ? -1 : 0;
}

int zs_b3_single_parse(const char *v, struct zs_trace_ctx *out)
{
	const char *d1 = strchr(v, '-'), *d2, *d3;

	if (!d1)
		return -1;
	if (b3_trace_id(v, (size_t)(d1 - v), out->trace_id))
		return -1;
	d2 = strchr(d1 + 1, '-');
	if (b3_span_id(d1 + 1, d2 ? (size_t)(d2 - d1 - 1) : strlen(d1 + 1), out->span_id))
		return -1;
	out->flags = ZS_FLAG_SAMPLED; /* no decision: the receiver decides; we sample */
	if (!d2)
		return 0;
	d3 = strchr(d2 + 1, '-');
	if ((d3 ? (size_t)(d3 - d2 - 1) : strlen(d2 + 1)) != 1)
		return -1;
	switch (d2[1]) {
	case '0':
		out->flags = 0;
		break;
	case '1':
	case 'd': /* debug implies sampled */
		break;
	default:
		return -1;
	}
	if (d3) {
		uint8_t parent[8];

		if (b3_span_id(d3 + 1, strlen(d3 + 1), parent))
			return -1;
	}
	return 0;
}

int zs_b3_multi_parse(const char *trace, const char *span, const char *sampled, const char *flags,
		      struct zs_trace_ctx *out)
{
	if (b3_trace_id(trace, strlen(trace), out->trace_id) ||
	    b3_span_id(span, strlen(span), out->span_id))
		return -1;
	out->flags = ZS_FLAG_SAMPLED;
	if (strcmp(flags, "1") == 0) /* debug */
		return 0;
	if (strcmp(sampled, "0") == 0 || strcmp(sampled, "false") == 0)
		out->flags = 0;
	else if (sampled[0] && strcmp(sampled, "1") != 0 && strcmp(sampled, "true") != 0)
		return -1;
	return 0;
}

static bool lc_alpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* key = simple-key / tenant-id "@" system-id (W3C Trace Context 3.3.1.3):
 * lowercase letters, digits, _ - * /; a simple key starts with a letter, a
 * tenant id (<= 241) with a letter or digit, a system id (<= 14) with a letter. */
static bool ts_key_valid(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);
	size_t i, t;

	if (n == 0 || n > 256)
		return false;
	for (i = 0; i < n; i++) {
		char c = k[i];

		if (!(lc_alpha(c) || digit(c) || c == '_' || c == '-' || c == '*' || c == '/' ||
		      (c == '@' && k + i == at)))
			return false;
	}
	if (!at)
		return lc_alpha(k[0]);
	t = (size_t)(at - k);
	return t >= 1 && t <= 241 && n - t - 1 >= 1 && n - t - 1 <= 14 &&
	       (lc_alpha(k[0]) || digit(k[0])) && lc_alpha(at[1]);
}

/* value: printable ASCII but ',' and '=', no trailing space, at most 256. */
static bool ts_value_valid(const char *v, size_t n)
{
	size_t i;

	if (n == 0 || n > 256 || v[n - 1] == ' ')
		return false;
	for (i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return false;
	return true;
}

bool zs_tracestate_valid(const char *v)
{
	int members = 0;
	const char *p = v;

	while (*p) {
		const char *end = strchr(p, ','), *eq;
		size_t n;

		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0) { /* empty list members are allowed and skipped */
			eq = memchr(p, '=', n);
			if (!eq || !ts_key_valid(p, (size_t)(eq - p)) ||
			    !ts_value_valid(eq + 1, n - (size_t)(eq - p) - 1))
				return false;
			if (++members > 32)
				return false;
		}
		p = *end ? end + 1 : end;
	}
	return true;
}
