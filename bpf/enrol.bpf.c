// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Connections open before the agent started: the injector's sockops program
 * enrols a client socket when it connects, so one connected earlier (a
 * keep-alive pool's, across an agent's restart or upgrade) would carry no
 * traceparent for as long as it lives, and every call on it would split its
 * trace in two. Run at start-up over the TCP sockets of each network
 * namespace (a bpf iterator; user/enrol.c enters each from a thread of its
 * own), this program enrols the established client sockets as sockops
 * would have: the RTT callback asked for (the
 * injector's way out of the sockhash for TLS, other protocols and full
 * send buffers) and the socket put in the sockhash.
 *
 * Linux 6.12+: a bpf iterator may set the sockops callback flags from then
 * on (TCP_BPF_SOCK_OPS_CB_FLAGS); where it may not, nothing is enrolled
 * (without the callback no socket could leave the sockhash again). The
 * iterator holds each socket's lock as an owner (lock_sock, since 6.5),
 * which the sockhash update, taking the socket's spinlock, needs.
 *
 * Maps sock_info, inject_socks, inject_stats and scope_ports are those of
 * sock.bpf.c and inject.bpf.c, shared by the loader.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "zerospan_abi.h"
#include "lib/enrol.bpf.h"
#include "lib/inject_maps.bpf.h"
#include "lib/maps.bpf.h"
#include "lib/scope.bpf.h"

#define ZS_SOL_TCP 6
#define ZS_TCP_BPF_SOCK_OPS_CB_FLAGS 1008

/* The agent's own sockets (their inode numbers), left alone: the iterator
 * does not know whose a socket is, and the agent's calls are never traced. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} enrol_skip SEC(".maps");

/* Under --pid/--exe only the sockets listed here (their inode numbers, the
 * loader's reading of the scoped processes' /proc/PID/fd) are taken: the
 * iterator does not know whose a socket is. */
const volatile __u8 enrol_listed = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} enrol_only SEC(".maps");

/* What the run found, by enum zs_enrol_why; read by the loader after it. */
__u64 enrol_counts[ZS_ENROL__COUNT];

static __always_inline __u64 zs_sock_ino(const struct sock *sk)
{
	struct socket *so = BPF_CORE_READ(sk, sk_socket);

	if (!so)
		return 0;
	return BPF_CORE_READ(container_of(so, struct socket_alloc, socket), vfs_inode.i_ino);
}

static __always_inline int zs_enrol_one(struct tcp_sock *tp)
{
	struct sock *sk = (struct sock *)tp;
	struct inet_bind_bucket *tb = BPF_CORE_READ(tp, inet_conn.icsk_bind_hash);
	struct zs_sock_info *si;
	__u64 cookie, ino;
	int flags = 0, was, why;

	why = zs_enrol_judge(sk->__sk_common.skc_family, sk->__sk_common.skc_state,
			     tb ? BPF_CORE_READ(tb, fastreuse) : 0,
			     tb ? BPF_CORE_READ(tb, fastreuseport) : 0,
			     zs_port_pair_in_scope(sk->__sk_common.skc_num,
						   bpf_ntohs(sk->__sk_common.skc_dport)));
	if (why != ZS_ENROL_DONE)
		return why;
	ino = zs_sock_ino(sk);
	if (ino && bpf_map_lookup_elem(&enrol_skip, &ino))
		return ZS_ENROL_AGENT;
	if (enrol_listed && !(ino && bpf_map_lookup_elem(&enrol_only, &ino)))
		return ZS_ENROL_OUT_OF_SCOPE;
	if (bpf_getsockopt(tp, ZS_SOL_TCP, ZS_TCP_BPF_SOCK_OPS_CB_FLAGS, &flags, sizeof(flags)))
		return ZS_ENROL_UNSUPPORTED;
	si = bpf_sk_storage_get(&sock_info, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!si)
		return ZS_ENROL_FAILED;
	cookie = bpf_get_socket_cookie(sk);
	was = flags;
	flags |= BPF_SOCK_OPS_RTT_CB_FLAG;
	if (bpf_setsockopt(tp, ZS_SOL_TCP, ZS_TCP_BPF_SOCK_OPS_CB_FLAGS, &flags, sizeof(flags)))
		return ZS_ENROL_UNSUPPORTED;
	si->in_scope = 1;
	si->cookie = cookie;
	if (bpf_map_update_elem(&inject_socks, &cookie, sk, BPF_NOEXIST)) {
		/* as it was (another program's callbacks, an agent's before us) */
		bpf_setsockopt(tp, ZS_SOL_TCP, ZS_TCP_BPF_SOCK_OPS_CB_FLAGS, &was, sizeof(was));
		return ZS_ENROL_FAILED;
	}
	zs_counter_inc(&inject_stats, ZS_INJ_ENROLLED_OPEN);
	return ZS_ENROL_DONE;
}

SEC("iter/tcp")
int zs_enrol_open(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;
	__u32 why;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	why = tp ? zs_enrol_one(tp) : ZS_ENROL_NOT_OPEN; /* time-wait, request */
	if (why < ZS_ENROL__COUNT)
		__sync_fetch_and_add(&enrol_counts[why], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
