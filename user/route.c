// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "route.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static char patterns[ZS_ROUTE_PATTERNS_MAX][ZS_ROUTE_MAX];
static int n_patterns;

int zs_route_add_pattern(const char *p, char *err, size_t errlen)
{
	size_t n = strlen(p);
	const char *star = strstr(p, "*");

	if (n_patterns >= ZS_ROUTE_PATTERNS_MAX) {
		snprintf(err, errlen, "at most %d --route patterns", ZS_ROUTE_PATTERNS_MAX);
		return -1;
	}
	if (p[0] != '/' || n >= ZS_ROUTE_MAX) {
		snprintf(err, errlen,
			 "--route '%s': must start with '/' and be shorter than %d bytes", p,
			 ZS_ROUTE_MAX);
		return -1;
	}
	if (star && (star[1] != 0 || star[-1] != '/')) {
		snprintf(err, errlen, "--route '%s': '*' only as the whole last segment", p);
		return -1;
	}
	if (strchr(p, '?')) {
		snprintf(err, errlen, "--route '%s': a pattern matches the path only, without '?'",
			 p);
		return -1;
	}
	memcpy(patterns[n_patterns++], p, n + 1);
	return 0;
}

void zs_route_clear_patterns(void)
{
	n_patterns = 0;
}

static int is_hex(char c)
{
	return isxdigit((unsigned char)c);
}

/* 8-4-4-4-12 hex digits */
static int is_uuid(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return 0;
	for (i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!is_hex(s[i])) {
			return 0;
		}
	}
	return 1;
}

int zs_route_segment_is_id(const char *s, size_t n)
{
	size_t i, digits = 0, alpha = 0, hex = 0, other = 0;

	if (n == 0)
		return 0;
	if (is_uuid(s, n))
		return 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isdigit(c))
			digits++;
		else if (isalpha(c))
			alpha++;
		else if (c != '-' && c != '_' && c != '.' && c != ':' && c != ',' && c != '~' &&
			 c != '=' && c != '%')
			other++;
		hex += is_hex((char)c) != 0;
	}
	if (other)
		return 0;
	/* numbers, also with separators: 42, 2024-01-31, 1.5, 12:30 */
	if (digits && !alpha)
		return 1;
	/* hex ids and hashes: 5f3a09c2, deadbeef01 */
	if (n >= 8 && hex == n && digits)
		return 1;
	/* long random tokens (base64, hashes with a prefix): letters and digits mixed */
	if (n >= 16 && digits >= 2 && alpha)
		return 1;
	return 0;
}

/* Does path match pattern? Segment by segment, "{...}" any one segment, a
 * last "*" the rest (at least one segment). */
static int pattern_match(const char *pat, const char *path)
{
	while (*pat && *path) {
		const char *pe = strchr(pat + 1, '/'), *se = strchr(path + 1, '/');
		size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
		size_t sl = se ? (size_t)(se - path) : strlen(path);

		/* both start with '/' here */
		if (pl == 2 && pat[1] == '*')
			return sl > 1;
		if (!(pl >= 3 && pat[1] == '{' && pat[pl - 1] == '}' && sl > 1) &&
		    (pl != sl || memcmp(pat, path, pl) != 0))
			return 0;
		pat += pl;
		path += sl;
	}
	return *pat == 0 && *path == 0;
}

void zs_route_of(const char *path, char *out, size_t cap)
{
	size_t o = 0;
	int i;

	if (!path[0] || path[0] != '/') {
		/* "*" (OPTIONS), authority-form (CONNECT): no route */
		snprintf(out, cap, "%s", path[0] == '*' ? "*" : "/");
		return;
	}
	for (i = 0; i < n_patterns; i++) {
		if (pattern_match(patterns[i], path)) {
			snprintf(out, cap, "%s", patterns[i]);
			return;
		}
	}
	while (*path && o + 1 < cap) {
		const char *seg = path + 1, *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);
		const char *w = seg;
		size_t wn = n;

		if (zs_route_segment_is_id(seg, n)) {
			w = ZS_ROUTE_ID;
			wn = sizeof(ZS_ROUTE_ID) - 1;
		}
		if (o + 1 + wn >= cap)
			break;
		out[o++] = '/';
		memcpy(out + o, w, wn);
		o += wn;
		path = seg + n;
	}
	out[o] = 0;
	if (o == 0)
		snprintf(out, cap, "/");
}
