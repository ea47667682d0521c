// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: Go's function table reader (user/gopclntab.c). The
 * table comes from any Go program on the host, so a damaged or hostile one
 * must give "not found" or an error, never a read outside it. The input is
 * copied into a buffer of its own size, so ASan sees any overread.
 */
#include "gopclntab.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[2] = { "net/http.(*persistConn).roundTrip",
					      "net/http.(*Request).write" };
	uint64_t addr[2], sz[2];
	uint8_t *tab = malloc(size ? size : 1);
	int n;

	if (!tab)
		return 0;
	memcpy(tab, data, size);
	n = zs_gopclntab_find(tab, size, names, 2, addr, sz);
	if (n > 2 || (n <= 0 && (addr[0] || addr[1])))
		__builtin_trap();
	free(tab);
	return 0;
}
