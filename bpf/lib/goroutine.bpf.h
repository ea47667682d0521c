/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go programs: which request a call belongs to, by goroutine. A net/http
 * server reads a request and runs its handler in one goroutine; the handler's
 * client call (persistConn.roundTrip) hands the request to the connection's
 * writer goroutine (writeLoop), which sends it, perhaps from another thread.
 * Goroutines move between threads, so a thread's last request says little.
 * With Go's register ABI (1.17+) the running goroutine's g is in %r14 in Go
 * code and at every syscall; its address names the goroutine while it lives.
 * Logic only (no maps), so the BPF tests can run it.
 */
#ifndef ZS_GOROUTINE_BPF_H
#define ZS_GOROUTINE_BPF_H

#include "zerospan_abi.h"

/* A handoff (roundTrip -> writer, writer -> its sends) is good this long:
 * a request is written right after roundTrip queued it, and g structs are
 * reused once their goroutine ends. */
#define ZS_GO_HANDOFF_NS 1000000000ULL

/* A probed function whose stack check fails grows its stack and starts
 * again: its probe fires twice for one call, within this. */
#define ZS_GO_REENTRY_NS 1000000ULL

/* Goroutine g's key (zs_event_hdr.flow): a 32-bit hash of its address with
 * ZS_FLOW_BIT, never a thread id nor thread_ctx's process key (0xffffffff). */
static __always_inline __u32 zs_go_flow_of(__u64 g)
{
	__u32 f = (__u32)((g * 0x9e3779b97f4a7c15ULL) >> 32) | ZS_FLOW_BIT;

	return f == 0xffffffffu ? 0xfffffffeu : f;
}

/* Was a handoff made at then still good at now? */
static __always_inline int zs_go_fresh(__u64 then, __u64 now)
{
	return now >= then && now - then < ZS_GO_HANDOFF_NS;
}

/* thread_ctx's key for goroutine flow of process tgid: the context of the
 * request it read (beside the thread's and the process's keys). */
static __always_inline __u64 zs_go_ctx_key(__u32 tgid, __u32 flow)
{
	return ((__u64)tgid << 32) | flow;
}

#endif
