/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The local addresses of each network namespace (the host's, a pod's), read
 * from /proc/PID/net/fib_trie and if_inet6 through a process in it and
 * cached for a few seconds: whether a connection's remote address can be a
 * listener of a given namespace.
 */
#ifndef ZS_NETNS_ADDRS_H
#define ZS_NETNS_ADDRS_H

#include <stdint.h>

/* Namespaces remembered, and addresses remembered per namespace. */
#define ZS_NETNS_ADDRS_NS 256
#define ZS_NETNS_ADDRS_MAX 32
/* How long what was read is trusted. */
#define ZS_NETNS_ADDRS_TTL_NS (10ull * 1000000000ull)

/* Where /proc is (tests make their own); "/proc" by default. */
void zs_netns_addrs_root(const char *proc_root);
/*
 * Is addr (16 bytes, IPv4 mapped) an address of network namespace netns?
 * 1 yes (loopback addresses are everyone's), 0 no, -1 not known: pid is a
 * process that may be in it, through which it is read when not cached (or
 * cached longer than the TTL).
 */
int zs_netns_addr_is_local(uint32_t netns, uint32_t pid, const uint8_t addr[16], uint64_t now_ns);
void zs_netns_addrs_clear(void);

#endif
