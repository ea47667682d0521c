// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "proxy_proto.h"

#include "zerospan_abi.h"

#include <arpa/inet.h>
#include <string.h>

static const uint8_t v2_sig[12] = ZS_PROXY_V2_SIG;

/* "PROXY TCP4 <src> <dst> <sport> <dport>\r\n" (or TCP6). */
static int source_v1(const uint8_t *b, size_t n, char *out, size_t cap)
{
	char src[48];
	uint8_t bin[16];
	size_t i, k;
	int af;

	if (n < 11 || memcmp(b, "PROXY TCP", 9) != 0 || (b[9] != '4' && b[9] != '6') ||
	    b[10] != ' ')
		return -1;
	af = b[9] == '4' ? AF_INET : AF_INET6;
	for (i = 11, k = 0; i < n && b[i] != ' ' && b[i] != '\r'; i++) {
		if (k + 1 >= sizeof(src))
			return -1;
		src[k++] = (char)b[i];
	}
	src[k] = 0;
	if (i >= n || b[i] != ' ' || inet_pton(af, src, bin) != 1)
		return -1;
	return inet_ntop(af, bin, out, (socklen_t)cap) ? 0 : -1;
}

/* 16 bytes of head (signature, version 2 and command, family and
 * transport, length), then the addresses. */
static int source_v2(const uint8_t *b, size_t n, char *out, size_t cap)
{
	size_t len;

	if (n < 16 || memcmp(b, v2_sig, sizeof(v2_sig)) != 0 || b[12] != 0x21 /* v2 PROXY */)
		return -1;
	len = (size_t)b[14] << 8 | b[15];
	if (b[13] == 0x11 /* TCP over IPv4 */ && len >= 12 && n >= 16 + 12)
		return inet_ntop(AF_INET, b + 16, out, (socklen_t)cap) ? 0 : -1;
	if (b[13] == 0x21 /* TCP over IPv6 */ && len >= 36 && n >= 16 + 36)
		return inet_ntop(AF_INET6, b + 16, out, (socklen_t)cap) ? 0 : -1;
	return -1;
}

int zs_proxy_source(const uint8_t *b, size_t n, char *out, size_t cap)
{
	if (cap)
		out[0] = 0;
	if (n >= 1 && b[0] == 'P')
		return source_v1(b, n, out, cap);
	return source_v2(b, n, out, cap);
}
