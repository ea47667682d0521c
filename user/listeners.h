/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Listening TCP sockets on this host and the processes that own them, from
 * LISTEN/UNLISTEN events (any process, traced or not) and, at start-up, the
 * agent's network namespace's /proc/net/tcp{,6} with a scan of /proc/PID/fd.
 * Names the peer of a CLIENT span whose server zerospan does not trace.
 */
#ifndef ZS_LISTENERS_H
#define ZS_LISTENERS_H

#include <stdint.h>

#include "zerospan_abi.h"

#define ZS_LISTENERS_MAX 4096

void zs_listeners_on_event(const struct zs_conn_event *ev, int up);
/* Reads the listeners that existed before the agent (proc_root: "/proc"). */
void zs_listeners_scan(const char *proc_root);
/*
 * The pid listening on addr (16 bytes, IPv4 mapped) port, preferring netns;
 * 0 when none, or when several processes could be meant.
 */
uint32_t zs_listeners_pid(const uint8_t addr[16], uint16_t port, uint32_t netns);
void zs_listeners_clear(void);

#endif
