/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Routes: a URL path turned into a low-cardinality template, the one rule
 * used for span names, metric labels and the service graph. The user's
 * patterns (--route '/users/{id}') are tried first, in order; otherwise
 * path segments that look like ids (numbers, UUIDs, hex, long random
 * tokens) become "{id}".
 */
#ifndef ZS_ROUTE_H
#define ZS_ROUTE_H

#include <stddef.h>

#define ZS_ROUTE_MAX 128	 /* bytes of a route, NUL included */
#define ZS_ROUTE_PATTERNS_MAX 64 /* --route flags */
#define ZS_ROUTE_ID "{id}"

/* Adds a pattern: "/" then segments, "{name}" matches one segment, a last
 * segment "*" matches the rest. Returns 0, or -1 with a reason in err. */
int zs_route_add_pattern(const char *pattern, char *err, size_t errlen);
/* Forgets every pattern (tests). */
void zs_route_clear_patterns(void);

/* 1 when one path segment (len bytes) looks like an id. */
int zs_route_segment_is_id(const char *seg, size_t len);

/* The route of path (no query) into out (cap bytes, >= 2). */
void zs_route_of(const char *path, char *out, size_t cap);

#endif
