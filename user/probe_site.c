// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "probe_site.h"

#include <string.h>

static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

static size_t skip_endbr64(const uint8_t *code, size_t len)
{
	return len >= sizeof(endbr64) && memcmp(code, endbr64, sizeof(endbr64)) == 0
		       ? sizeof(endbr64)
		       : 0;
}

static int32_t rel32_at(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

/* push %reg (50+r) or push %r8..%r15 (41 50+r): emulated since Linux 4.18
 * (arch/x86/kernel/uprobes.c push_emulate_op, "uprobes/x86: Emulate push
 * insns for uprobe on x86"). */
static int is_push(const uint8_t *p, size_t len)
{
	if (len >= 1 && p[0] >= 0x50 && p[0] <= 0x57)
		return 1;
	return len >= 2 && p[0] == 0x41 && p[1] >= 0x50 && p[1] <= 0x57;
}

uint64_t zs_site_entry(uint64_t off, const uint8_t *code, size_t len, int *emulated)
{
	size_t at = skip_endbr64(code, len);

	*emulated = is_push(code + at, len - at);
	return off + at;
}

uint64_t zs_site_forward(uint64_t off, const uint8_t *code, size_t len)
{
	size_t at = skip_endbr64(code, len);

	/* sub $imm8,%rsp: 48 83 ec ib (stack alignment for the call) */
	if (len - at >= 4 && code[at] == 0x48 && code[at + 1] == 0x83 && code[at + 2] == 0xec)
		at += 4;
	if (len - at < 5 || (code[at] != 0xe8 && code[at] != 0xe9))
		return 0;
	return off + at + 5 + (int64_t)rel32_at(code + at + 1);
}

int zs_site_calls(uint64_t off, const uint8_t *code, size_t len, uint64_t target)
{
	size_t i;

	for (i = 0; i + 5 <= len; i++)
		if (code[i] == 0xe8 && off + i + 5 + (int64_t)rel32_at(code + i + 1) == target)
			return 1;
	return 0;
}

/* xor of a 32-bit register with itself (31 /r or 33 /r, optionally with a
 * REX prefix naming the same register twice): its length, else 0. Only
 * %eax, %ecx and %r8d-%r11d: never one of the first three arguments
 * (%edi, %esi, %edx) nor the stack or frame pointer. */
static size_t zeroing_xor(const uint8_t *p, size_t len)
{
	size_t at = 0;
	unsigned int reg, rm, hi = 0;

	if (len >= 1 && (p[0] & 0xf0) == 0x40) {
		/* REX: W and X clear, R and B equal */
		if ((p[0] & 0x0a) || ((p[0] >> 2) & 1) != (p[0] & 1))
			return 0;
		hi = (p[0] & 1) << 3;
		at = 1;
	}
	if (len < at + 2 || (p[at] != 0x31 && p[at] != 0x33) || (p[at + 1] & 0xc0) != 0xc0)
		return 0;
	reg = hi | ((p[at + 1] >> 3) & 7);
	rm = hi | (p[at + 1] & 7);
	if (reg != rm || !(reg == 0 || reg == 1 || (reg >= 8 && reg <= 11)))
		return 0;
	return at + 2;
}

uint64_t zs_site_tail_call(uint64_t off, const uint8_t *code, size_t len)
{
	size_t at = skip_endbr64(code, len), n;

	while ((n = zeroing_xor(code + at, len - at)) != 0)
		at += n;
	if (len - at < 5 || code[at] != 0xe9)
		return 0;
	return off + at + 5 + (int64_t)rel32_at(code + at + 1);
}

uint64_t zs_site_plt_slot(uint64_t vaddr, const uint8_t *code, size_t len)
{
	size_t at = skip_endbr64(code, len);

	if (len - at >= 1 && code[at] == 0xf2) /* bnd */
		at++;
	if (len - at < 6 || code[at] != 0xff || code[at + 1] != 0x25)
		return 0;
	return vaddr + at + 6 + (int64_t)rel32_at(code + at + 2);
}

/* Offset of the first n-byte run pat in code[from, len), or len. */
static size_t find(const uint8_t *code, size_t from, size_t len, const uint8_t *pat, size_t n)
{
	size_t i;

	for (i = from; i + n <= len; i++)
		if (memcmp(code + i, pat, n) == 0)
			return i;
	return len;
}

uint64_t zs_site_recv_tail(uint64_t off, const uint8_t *code, size_t len)
{
	/* mov $0x17,%esi; add $0x8,%rsp; jmp rel32 */
	static const uint8_t tail[] = { 0xbe, 0x17, 0, 0, 0, 0x48, 0x83, 0xc4, 0x08, 0xe9 };
	static const uint8_t mov_rdx_rcx[] = { 0x48, 0x89, 0xd1 },
			     mov_rsi_rdx[] = { 0x48, 0x89, 0xf2 };
	size_t at = find(code, 0, len, tail, sizeof(tail));

	if (at == len || at + sizeof(tail) + 4 > len || find(code, 0, at, mov_rdx_rcx, 3) == at ||
	    find(code, 0, at, mov_rsi_rdx, 3) == at)
		return 0;
	return off + at + sizeof(tail) - 1;
}

uint64_t zs_site_go_entry(uint64_t off, const uint8_t *code, size_t len)
{
	static const uint8_t cmp_rsp[] = { 0x49, 0x3b, 0x66, 0x10 }; /* cmp 0x10(%r14),%rsp */
	static const uint8_t cmp_r12[] = { 0x4d, 0x3b, 0x66, 0x10 }; /* cmp 0x10(%r14),%r12 */
	static const uint8_t lea_r12[] = { 0x4c, 0x8d };	     /* lea ...(%rsp),%r12 */
	size_t at = 0;

	if (len >= 5 && memcmp(code, lea_r12, 2) == 0 && code[2] == 0x64 && code[3] == 0x24)
		at = 5; /* disp8 */
	else if (len >= 8 && memcmp(code, lea_r12, 2) == 0 && code[2] == 0xa4 && code[3] == 0x24)
		at = 8; /* disp32 */
	if (len < at + 4 || memcmp(code + at, at ? cmp_r12 : cmp_rsp, 4) != 0)
		return 0;
	at += 4;
	if (len >= at + 2 && code[at] == 0x76)
		return off + at; /* jbe rel8 */
	if (len >= at + 6 && code[at] == 0x0f && code[at + 1] == 0x86)
		return off + at; /* jbe rel32 */
	return 0;
}
