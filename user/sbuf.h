/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A growing string for rendered text (/metrics, JSON). */
#ifndef ZS_SBUF_H
#define ZS_SBUF_H

#include <stddef.h>

struct zs_sbuf {
	char *p;
	size_t len, cap;
};

/* Appends printf-style; the buffer grows as needed. */
void zs_sb_printf(struct zs_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s with '\\', '"' and newlines escaped, other control characters
 * as '?' (a Prometheus label value or a JSON string body). */
void zs_sb_escaped(struct zs_sbuf *b, const char *s);

/* Appends n bytes as lowercase hex (trace and span ids). */
void zs_sb_hex(struct zs_sbuf *b, const unsigned char *p, size_t n);

#endif
