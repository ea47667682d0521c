/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Scope: which processes and connections are traced (--pid, --exe, --port)
 * and the agent's own tgid, never traced. Each object that includes this
 * gets its own knobs (set by the loader) and maps (shared by fd).
 */
#ifndef ZS_SCOPE_BPF_H
#define ZS_SCOPE_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 agent_tgid = 0;
const volatile __u8 filter_pids = 0;
const volatile __u8 filter_comms = 0;
const volatile __u8 filter_ports = 0;

/* Scope: tgids to trace when filter_pids is set. Written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} scope_pids SEC(".maps");

/* Scope: task comms to trace when filter_comms is set. Written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[16]);
	__type(value, __u8);
} scope_comms SEC(".maps");

/* Scope: local or remote TCP ports to trace when filter_ports is set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} scope_ports SEC(".maps");

static __always_inline int zs_in_scope(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;

	if (tgid == agent_tgid)
		return 0;
	if (filter_pids && !bpf_map_lookup_elem(&scope_pids, &tgid))
		return 0;
	if (filter_comms) {
		char comm[16] = {};

		bpf_get_current_comm(comm, sizeof(comm));
		if (!bpf_map_lookup_elem(&scope_comms, comm))
			return 0;
	}
	return 1;
}

/* Is a connection with these ports (host order) in scope? */
static __always_inline int zs_port_pair_in_scope(__u16 lport, __u16 rport)
{
	return !filter_ports || bpf_map_lookup_elem(&scope_ports, &lport) ||
	       bpf_map_lookup_elem(&scope_ports, &rport);
}

static __always_inline int zs_ports_in_scope(const struct sock *sk)
{
	if (!filter_ports)
		return 1;
	return zs_port_pair_in_scope(BPF_CORE_READ(sk, __sk_common.skc_num),
				     bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)));
}

#endif
