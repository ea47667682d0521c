// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void zs_sb_printf(struct zs_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)n;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
}

void zs_sb_escaped(struct zs_sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			zs_sb_printf(b, "\\%c", *s);
		else if (*s == '\n')
			zs_sb_printf(b, "\\n");
		else if ((unsigned char)*s < 0x20)
			zs_sb_printf(b, "?"); /* valid in every format we write */
		else
			zs_sb_printf(b, "%c", *s);
	}
}

void zs_sb_hex(struct zs_sbuf *b, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		zs_sb_printf(b, "%02x", p[i]);
}
