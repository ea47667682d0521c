/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Spans on the terminal: one readable line each, text or JSON. */
#ifndef ZS_PRINT_H
#define ZS_PRINT_H

#include <stdio.h>

#include "config.h"
#include "span.h"

/* Formats one span as a line (no newline) into buf. */
void zs_print_format(const struct zs_span *s, enum zs_print_mode mode, char *buf, size_t cap);

void zs_print_span(FILE *out, const struct zs_span *s, enum zs_print_mode mode);

#endif
