/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The injector's maps: inject.bpf.c creates them, the start-up enrolment
 * (enrol.bpf.c) gets them by fd from the loader. Defined once here so both
 * objects agree on their layout.
 */
#ifndef ZS_INJECT_MAPS_BPF_H
#define ZS_INJECT_MAPS_BPF_H

#include <bpf/bpf_helpers.h>

#include "zerospan_abi.h"

/* Client sockets whose messages sk_msg sees, key: socket cookie. Added by
 * sockops at active open (and by the enrolment, for those open before the
 * agent); the kernel removes a socket when it closes. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} inject_socks SEC(".maps");

/* What the injector did, per CPU, indexed by enum zs_inject_result. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ZS_INJ__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} inject_stats SEC(".maps");

#endif
