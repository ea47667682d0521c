/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go's own function table (.gopclntab, the layout of Go 1.18 and later):
 * a function's address by its name, also in a binary stripped of its
 * symbol table (`go build -ldflags=-s`, as most images are built), since the
 * Go runtime itself needs the table.
 */
#ifndef ZS_GOPCLNTAB_H
#define ZS_GOPCLNTAB_H

#include <stddef.h>
#include <stdint.h>

/*
 * Looks each of names[0..n) up in the table tab (len bytes: the section's
 * contents, read as untrusted). addr[i]: the function's virtual address,
 * size[i]: bytes to the next function; both 0 when not found. Returns how
 * many were found, or -1 when tab is not such a table (an older Go's
 * layout, truncated, offsets out of range).
 */
int zs_gopclntab_find(const uint8_t *tab, size_t len, const char *const *names, int n,
		      uint64_t *addr, uint64_t *size);

#endif
