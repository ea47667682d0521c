/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Listening TCP sockets on this host and the processes that own them, from
 * LISTEN/UNLISTEN events (any process, traced or not) and, at start-up, the
 * /proc/PID/net/tcp{,6} of every network namespace a process is in, with a
 * scan of /proc/PID/fd for their owners.
 * Names the peer of a CLIENT span whose server zerospan does not trace.
 */
#ifndef ZS_LISTENERS_H
#define ZS_LISTENERS_H

#include <stdint.h>

#include "zerospan_abi.h"

#define ZS_LISTENERS_MAX 4096

void zs_listeners_on_event(const struct zs_conn_event *ev, int up);
/* Reads the listeners that existed before the agent (proc_root: "/proc"):
 * returns how many were found, in how many network namespaces (*n_netns). */
int zs_listeners_scan(const char *proc_root, int *n_netns);
/*
 * The pid listening on addr (16 bytes, IPv4 mapped) port for a client in
 * network namespace netns (pid: the client process): one of netns when addr
 * is an address of netns, else one of another namespace where addr is an
 * address (as far as netns_addrs knows: where it does not, netns's is
 * preferred and a wildcard listener elsewhere may be meant); 0 when none, or
 * when several processes could be meant.
 */
uint32_t zs_listeners_pid(const uint8_t addr[16], uint16_t port, uint32_t netns, uint32_t pid,
			  uint64_t now_ns);
void zs_listeners_clear(void);

#endif
