/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The PROXY protocol header (v1 text, v2 binary) a load balancer sends at a
 * connection's start: who its client was.
 */
#ifndef ZS_PROXY_PROTO_H
#define ZS_PROXY_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* The source address of the header in b (n bytes, from its start), as text
 * ("192.0.2.7", "2001:db8::1"), into out. 0, or -1 when b holds no proxied
 * TCP connection (LOCAL and UNKNOWN headers, other transports, bad bytes). */
int zs_proxy_source(const uint8_t *b, size_t n, char *out, size_t cap);

#endif
