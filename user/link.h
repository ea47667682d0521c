/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * In-process linking: which SERVER span is a process serving when it sends a
 * CLIENT request? Every SERVER request a process reads is "in flight" until
 * its response ends. A CLIENT request sent by thread T of process P takes as
 * parent, in this order:
 *  1. the one request in flight that T itself read (thread per request);
 *  2. among several read by T (event loops), the one with the same method
 *     and path (a proxy forwarding the request), if only one matches;
 *  3. the one request in flight in P, or the one with the same method and
 *     path (worker pools, threads spawned per request);
 *  4. the same rule in P's parent process (processes forked per request).
 * Anything else is ambiguous: left as a new trace and counted. The tables
 * hold pointers to the pending SERVER spans, so every path that takes a
 * SERVER span out of its connection must call zs_link_server_end first.
 */
#ifndef ZS_LINK_H
#define ZS_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "span.h"

/* max_procs: processes with requests in flight tracked at most. */
int zs_link_init(uint32_t max_procs);
void zs_link_fini(void);

/* Thread tid of process pid read the request of SERVER span s. Here and
 * below a tid with ZS_FLOW_BIT is a Go program's goroutine (span.flow): it
 * serves one request at a time. */
void zs_link_server_begin(uint32_t pid, uint32_t tid, struct zs_span *s);

/* SERVER span s of process pid leaves its connection (response ended,
 * exchange dropped): it is nobody's parent from now on. */
void zs_link_server_end(uint32_t pid, const struct zs_span *s);

/* CLIENT span s, sent by pid/tid (parent process ppid, 0 if unknown): takes
 * trace id, flags and tracestate from the SERVER span being served, and that
 * span as parent (which is marked has_children). Returns true when linked. */
bool zs_link_client(uint32_t pid, uint32_t tid, uint32_t ppid, struct zs_span *s);

/* CLIENT span s, the first request on a connection thread tid of process
 * pid made at at_ns (unix epoch): as zs_link_client, with the request in
 * flight that tid read last before at_ns (an event loop or a Go program
 * connects for the request it handles but sends from a later turn, or
 * another thread, that may have read another request by then). */
bool zs_link_client_connect(uint32_t pid, uint32_t tid, uint64_t at_ns, struct zs_span *s);

/* CLIENT span s (trace id already set) of process pid: parent is the
 * SERVER span in flight in pid (else ppid) with the same trace id. */
bool zs_link_client_in_trace(uint32_t pid, uint32_t ppid, struct zs_span *s);

#endif
