// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "gopclntab.h"

#include <string.h>

/* runtime/symtab.go's pcHeader: magic (0xfffffff0 in Go 1.18-1.19,
 * 0xfffffff1 since 1.20), two pad bytes, minLC, ptrSize, then nfunc, nfiles,
 * textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset,
 * pclnOffset as pointer-sized words. */
#define HDR_WORDS 8
#define HDR_LEN (8 + HDR_WORDS * 8)

static uint32_t u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t u64(const uint8_t *p)
{
	return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32;
}

int zs_gopclntab_find(const uint8_t *tab, size_t len, const char *const *names, int n,
		      uint64_t *addr, uint64_t *size)
{
	uint64_t nfunc, text, fname, pcln, i;
	uint32_t magic;
	int k, found = 0;

	for (k = 0; k < n; k++)
		addr[k] = size[k] = 0;
	if (len < HDR_LEN)
		return -1;
	magic = u32(tab);
	/* little-endian, 8-byte pointers (x86-64, arm64) */
	if ((magic != 0xfffffff0u && magic != 0xfffffff1u) || tab[4] || tab[5] || tab[7] != 8)
		return -1;
	nfunc = u64(tab + 8);
	text = u64(tab + 24);
	fname = u64(tab + 32);
	pcln = u64(tab + 64);
	/* the functab: nfunc + 1 pairs of (entry offset, _func offset) */
	if (fname >= len || pcln >= len || (len - pcln) / 8 < 1 || nfunc > (len - pcln) / 8 - 1)
		return -1;
	for (i = 0; i < nfunc && found < n; i++) {
		const uint8_t *ft = tab + pcln + i * 8;
		uint64_t fo = pcln + u32(ft + 4), no;
		const char *name;
		size_t room;

		if (fo > len - 8)
			continue;
		/* _func: entryOff uint32, nameOff int32 */
		no = fname + (uint64_t)(int64_t)(int32_t)u32(tab + fo + 4);
		if (no >= len)
			continue;
		name = (const char *)tab + no;
		room = len - no;
		for (k = 0; k < n; k++) {
			size_t nl = strlen(names[k]);

			if (addr[k] || nl >= room || memcmp(name, names[k], nl + 1) != 0)
				continue;
			addr[k] = text + u32(ft);
			size[k] = u32(ft + 8) > u32(ft) ? u32(ft + 8) - u32(ft) : 0;
			found++;
		}
	}
	return found;
}
