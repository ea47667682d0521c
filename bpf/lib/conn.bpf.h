/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Connection identity helpers: reading a socket's 4-tuple and netns. */
#ifndef ZS_CONN_BPF_H
#define ZS_CONN_BPF_H

#define ZS_AF_INET 2
#define ZS_AF_INET6 10
#define ZS_IPPROTO_TCP 6

/* Writes an IPv4 address as an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
static __always_inline void zs_addr_v4_mapped(__u8 out[16], __u32 be_addr)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &be_addr, 4);
}

/* Fills the tuple part of a CONN event from a socket (CO-RE reads). */
static __always_inline void zs_conn_fill_tuple(struct zs_conn_event *ev, const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	ev->family = family;
	ev->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	ev->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	ev->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (family == ZS_AF_INET6) {
		/* bpf_core_read with an explicit size: BPF_CORE_READ_INTO would copy
		 * sizeof(*dst), one byte of the array. */
		bpf_core_read(ev->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(ev->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		zs_addr_v4_mapped(ev->laddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		zs_addr_v4_mapped(ev->raddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	}
}

/* zs_conn_fill_tuple for sk a BTF-typed pointer (a tp_btf or trampoline
 * program's argument): plain loads instead of a helper call per field (the
 * CONN record of every new connection). */
static __always_inline void zs_conn_fill_tuple_btf(struct zs_conn_event *ev, const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;
	int i;

	ev->family = family;
	ev->lport = sk->__sk_common.skc_num;
	ev->rport = bpf_ntohs(sk->__sk_common.skc_dport);
	ev->netns = sk->__sk_common.skc_net.net->ns.inum;
	if (family == ZS_AF_INET6) {
		__u32 *l = (__u32 *)ev->laddr, *r = (__u32 *)ev->raddr;

#pragma unroll
		for (i = 0; i < 4; i++) {
			l[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			r[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
		}
	} else {
		zs_addr_v4_mapped(ev->laddr, sk->__sk_common.skc_rcv_saddr);
		zs_addr_v4_mapped(ev->raddr, sk->__sk_common.skc_daddr);
	}
}

/* The connection's tuple as its client sees it; server: sk is the server's
 * end (the accepted socket), else the client's. */
static __always_inline void zs_tuple_key_fill(struct zs_tuple_key *k, const struct sock *sk,
					      int server)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__u8 *local = server ? k->saddr : k->caddr, *remote = server ? k->caddr : k->saddr;

	__builtin_memset(k, 0, sizeof(*k));
	k->cport = server ? rport : lport;
	k->sport = server ? lport : rport;
	if (family == ZS_AF_INET6) {
		bpf_core_read(local, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(remote, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		zs_addr_v4_mapped(local, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		zs_addr_v4_mapped(remote, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	}
}

/* Is sk (a BTF-typed tp_btf argument) an IPv4/IPv6 TCP socket? Plain loads:
 * BPF_CORE_READ would make a helper call per field, on every socket call. */
static __always_inline int zs_sock_is_tcp(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;

	if (family != ZS_AF_INET && family != ZS_AF_INET6)
		return 0;
	return sk->sk_protocol == ZS_IPPROTO_TCP;
}

#endif /* ZS_CONN_BPF_H */
