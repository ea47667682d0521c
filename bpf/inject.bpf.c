// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * traceparent injection into outgoing plaintext HTTP/1.x requests.
 *
 * sockops enrols every client TCP socket (active open) in a sockhash (and
 * enrol.bpf.c, at start-up, those connected before the agent); the sk_msg
 * program attached to it sees each sendmsg's bytes before TCP does.
 * When a message starts with a complete request line and header block that
 * carries no traceparent, on a connection with no request unanswered, it
 * inserts "traceparent: 00-<trace>-<span>-<flags>" after the request line:
 * the trace is the one the sending thread (else its process, else its
 * parent process) serves, per thread_ctx written by sock.bpf.c, else a new
 * one; the span is a fresh id for the CLIENT span, reported to the agent in
 * the send's DATA record. Anything else passes untouched and is counted.
 *
 * Maps events, conns, thread_ctx, sock_info and the scope maps are
 * sock.bpf.c's, shared by the loader.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "zerospan_abi.h"
#include "lib/http_class.bpf.h"
#include "lib/inject_maps.bpf.h"
#include "lib/maps.bpf.h"
#include "lib/scope.bpf.h"
#include "lib/trace_ctx.bpf.h"
#include "lib/verifier.bpf.h"

/* "tracestate: " value CRLF */
#define ZS_TS_HDR_MAX (12 + ZS_TS_MAX + 2)

/* Bytes of a message's head examined: the request line and the header
 * block must fit, else no injection (counted INCOMPLETE). 8 KiB, nginx's
 * default for a header line: bearer tokens and cookies of a few KiB are
 * common. Only a message that long costs the longer copy and scan. */
#define ZS_INJ_HEAD 8192

const volatile __u64 sample_threshold = 1ULL << 53;

/* The headers inserted: traceparent, then tracestate when passed on. */
#define ZS_INJ_HDR_MAX (ZS_TP_HDR_LEN + ZS_TS_HDR_MAX)

struct zs_inj_scratch {
	__u8 head[ZS_TC_BUF]; /* copy of the message head (ZS_INJ_HEAD used) */
	union {		      /* copied out a word at a time (hdr_w) */
		__u8 hdr[ZS_INJ_HDR_MAX + 8];
		__u64 hdr_w[(ZS_INJ_HDR_MAX + 15) / 8];
	};
};

/*
 * An sk_msg program can be preempted (it runs with migration, not
 * preemption, disabled), and another thread's send then runs the injector
 * on the same CPU. So each CPU has ZS_INJ_SLOTS buffers (an ARRAY sized by
 * the loader, CPU * ZS_INJ_SLOTS + slot: a per-CPU value this large is
 * refused), and a word of in-use bits each send takes a free one from with
 * an atomic fetch-or and gives back when done: a preempted send's buffer is
 * never another's. Only that CPU's programs touch its word.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256 * ZS_INJ_SLOTS);
	__type(key, __u32);
	__type(value, struct zs_inj_scratch);
} inj_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} inj_slots SEC(".maps");

/* A free slot of *used, now taken; -1 when all are in use. */
static __always_inline int zs_inj_slot_take(__u64 *used)
{
	int i;

	for (i = 0; i < ZS_INJ_SLOTS; i++)
		if (!(__sync_fetch_and_or(used, 1ULL << i) & (1ULL << i)))
			return i;
	return -1;
}

/* Counts what became of a message; the message always passes. */
static __always_inline int zs_inj_count(__u32 result)
{
	zs_counter_inc(&inject_stats, result);
	return SK_PASS;
}

/* SOCK_NOSPACE's bit in socket.flags: a value of enum socket_flags in newer
 * kernels (6.18's BTF has it), a #define (2) in older ones such as 6.12. A
 * CO-RE relocation against an enum value the kernel lacks fails the whole
 * program's load (it did on 6.12: no injection at all), so its presence is
 * asked first. */
static __always_inline __u32 zs_sock_nospace_bit(void)
{
	if (bpf_core_enum_value_exists(enum socket_flags, SOCK_NOSPACE))
		return bpf_core_enum_value(enum socket_flags, SOCK_NOSPACE);
	return 2;
}

/*
 * Should this socket leave the sockhash now? A TLS connection (si->tls), or
 * one whose first message was no HTTP/1.x request (si->not_http: a
 * database or cache client, say): nothing will be inserted into its bytes,
 * and the sockmap send and receive paths cost each of its messages (~3.6 us
 * a request measured for plain HTTP). A socket whose sender found its send
 * buffer full (SOCK_NOSPACE): the ACKs that free it wake the socket's wait
 * queue, and a blocking read waiting in the sockmap receive path
 * (tcp_bpf_recvmsg waits once, not in a loop) returns EAGAIN to an app that
 * never asked for non-blocking reads.
 * Never while received bytes are unread (rcv_nxt != copied_seq): they may
 * sit in the psock's queue, which leaving the sockhash frees.
 */
static __always_inline __u32 zs_should_withdraw(struct bpf_sock *sk, const struct zs_sock_info *si)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	struct socket *so;

	if (!tp || tp->rcv_nxt != tp->copied_seq)
		return 0;
	if (si->tls)
		return ZS_INJ_TLS_LEFT;
	if (si->not_http)
		return ZS_INJ_NOT_HTTP_LEFT;
	so = tp->inet_conn.icsk_inet.sk.sk_socket;
	if (!so)
		return 0;
	return (so->flags >> zs_sock_nospace_bit()) & 1 ? ZS_INJ_WITHDRAWN : 0;
}

/* What a client connection's first message (of 2 bytes or more, or 16 for
 * HTTP) says it speaks; zs_sockops takes TLS and other protocols out of the
 * sockhash. Later messages change nothing. */
enum zs_first { ZS_FIRST_HTTP, ZS_FIRST_TLS, ZS_FIRST_OTHER };

static __always_inline void zs_judge_first(struct zs_sock_info *si, enum zs_first what)
{
	if (si->judged)
		return;
	si->judged = 1;
	if (what == ZS_FIRST_TLS)
		si->tls = 1;
	else if (what == ZS_FIRST_OTHER)
		si->not_http = 1;
}

SEC("sockops")
int zs_sockops(struct bpf_sock_ops *skops)
{
	struct zs_sock_info *si;
	struct bpf_sock *sk;
	__u32 rport;

	if (skops->family != 2 /* AF_INET */ && skops->family != 10 /* AF_INET6 */)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	if (skops->op == BPF_SOCK_OPS_RTT_CB || skops->op == BPF_SOCK_OPS_HDR_OPT_LEN_CB) {
		/* An ACK received (RTT) or a segment about to be sent (HDR_OPT_LEN,
		 * asked for below) on an enrolled socket, under the socket's lock:
		 * leave the sockhash once it carries TLS or no HTTP, or before a
		 * full send buffer's wakeup can fail a blocking read (the kernel
		 * restores the plain TCP calls once the send in flight, which
		 * holds the psock, returns). Later requests on this connection go
		 * without a traceparent. */
		__u32 why;

		si = bpf_sk_storage_get(&sock_info, sk, 0, 0);
		if (!si)
			return 1;
		why = zs_should_withdraw(sk, si);
		if (!why) {
			/* A TLS socket's ACKs mostly come with the response, its
			 * bytes not yet read (so do a database client's): try
			 * again when it next sends (the next request, everything
			 * read by then). */
			if ((si->tls || si->not_http) &&
			    !(skops->bpf_sock_ops_cb_flags & BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG))
				bpf_sock_ops_cb_flags_set(
					skops, skops->bpf_sock_ops_cb_flags |
						       BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
			return 1;
		}
		if (si->cookie && bpf_map_delete_elem(&inject_socks, &si->cookie) == 0)
			zs_inj_count(why);
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags &
							 ~(BPF_SOCK_OPS_RTT_CB_FLAG |
							   BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG));
		return 1;
	}
	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	/* local_port is host order; remote_port is network order, in the low or
	 * the high half of the word depending on the kernel. */
	rport = bpf_ntohl(skops->remote_port);
	if (rport > 0xffff)
		rport >>= 16;
	si = bpf_sk_storage_get(&sock_info, sk, 0, 0);
	if (!si || !si->in_scope || !zs_port_pair_in_scope((__u16)skops->local_port, (__u16)rport))
		return 1;
	si->cookie = bpf_get_socket_cookie(skops);
	if (bpf_sock_hash_update(skops, &inject_socks, &si->cookie, BPF_NOEXIST) == 0)
		bpf_sock_ops_cb_flags_set(skops,
					  skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_RTT_CB_FLAG);
	return 1;
}

/* Appends "tracestate: <value>\r\n" of the request served (key) after the
 * traceparent in hdr. Returns the bytes added. */
static __always_inline __u32 zs_tracestate_hdr(__u64 key, __u8 *hdr)
{
	struct zs_tstate *ts = bpf_map_lookup_elem(&thread_ts, &key);
	const __u64 name_lo = 0x6174736563617274ULL; /* "tracesta" */
	const __u32 name_hi = 0x203a6574;	     /* "te: " */
	__u32 len;

	if (!ts)
		return 0;
	len = ts->len;
	if (len == 0 || len > ZS_TS_MAX)
		return 0;
	__builtin_memcpy(hdr + ZS_TP_HDR_LEN, &name_lo, 8);
	__builtin_memcpy(hdr + ZS_TP_HDR_LEN + 8, &name_hi, 4);
	zs_clamp_umax(len, ZS_TS_MAX);
	if (bpf_probe_read_kernel(hdr + ZS_TP_HDR_LEN + 12, len, ts->data))
		return 0;
	hdr[(ZS_TP_HDR_LEN + 12 + len) & 511] = '\r';
	hdr[(ZS_TP_HDR_LEN + 13 + len) & 511] = '\n';
	return 12 + len + 2;
}

/* The injector's work on a message of an enrolled socket, in buffer s (its
 * own while it runs). Returns the verdict (always SK_PASS). */
static __always_inline int zs_inject_msg(struct sk_msg_md *msg, struct zs_sock_info *info,
					 struct zs_inj_scratch *s, __u64 id)
{
	__u32 n, line_end = 0, k;
	struct zs_conn_state *st;
	struct zs_kernel_ctx c = {}; /* state NONE until zs_caller_ctx finds one */
	__u64 key = 0;
	__u32 add = ZS_TP_HDR_LEN;
	struct zs_tp_scan sc = {};
	__u8 *p, *end, *q;

	n = msg->size < ZS_INJ_HEAD ? msg->size : ZS_INJ_HEAD;
	if (n < 2)
		return zs_inj_count(ZS_INJ_NOT_REQUEST);
	if (bpf_msg_pull_data(msg, 0, n, 0))
		return zs_inj_count(ZS_INJ_FAILED);
	p = msg->data;
	end = msg->data_end;
	if ((__u64)(end - p) < n || p + 2 > end)
		return zs_inj_count(ZS_INJ_FAILED);
	/* The connection's first message is no request: TLS (a record header:
	 * handshake, version 3.x) or another protocol (no method starts with
	 * anything but a capital; a database or cache client, say). It leaves
	 * the sockhash (zs_sockops) instead of paying the sockmap paths for
	 * all its messages. A later message that is no request start is a
	 * body, or a response on a connection that serves: it stays. */
	if (!info->judged && (p[0] < 'A' || p[0] > 'Z')) {
		zs_judge_first(info, p[0] == 0x16 && p[1] == 0x03 ? ZS_FIRST_TLS : ZS_FIRST_OTHER);
		return zs_inj_count(ZS_INJ_NOT_REQUEST);
	}
	if (n < 16)
		return zs_inj_count(ZS_INJ_NOT_REQUEST);
	n &= ZS_INJ_HEAD * 2 - 1;
	if (bpf_probe_read_kernel(s->head, n, p))
		return zs_inj_count(ZS_INJ_FAILED);
	if (zs_classify_start(s->head, ZS_CLASSIFY_LEN) != ZS_START_REQUEST) {
		zs_judge_first(info, ZS_FIRST_OTHER);
		return zs_inj_count(ZS_INJ_NOT_REQUEST);
	}
	zs_judge_first(info, ZS_FIRST_HTTP);
	/* Never into a pipelined follower: a request is unanswered. */
	st = bpf_map_lookup_elem(&conns, &info->cookie);
	if (st && zs_conn_unanswered(st))
		return zs_inj_count(ZS_INJ_PIPELINED);
	sc.buf = s->head;
	sc.n = n;
	zs_tp_scan_run(&sc);
	if (sc.count || sc.b3)
		return zs_inj_count(ZS_INJ_HAS_CONTEXT);
	if (!sc.end)
		return zs_inj_count(ZS_INJ_INCOMPLETE);
	/* a well-formed request line ends with " HTTP/1.0" or " HTTP/1.1" CRLF */
	line_end = sc.nl1;
	if (line_end < 16 || line_end > 511)
		return zs_inj_count(ZS_INJ_INCOMPLETE);
	if (s->head[(line_end - 2) & ZS_TC_MASK] != '\r')
		return zs_inj_count(ZS_INJ_NOT_REQUEST);
	{
		const __u64 http1 = 0x2e312f5054544820ULL; /* " HTTP/1." little-endian */
		__u64 tail = 0;
		__u8 minor = s->head[(line_end - 3) & ZS_TC_MASK];

		for (k = 0; k < 8; k++)
			tail |= (__u64)s->head[(line_end - 11 + k) & ZS_TC_MASK] << (8 * k);
		if (tail != http1 || (minor != '0' && minor != '1'))
			return zs_inj_count(ZS_INJ_NOT_REQUEST);
	}

	if (zs_conn_call_ctx(info, id, sample_threshold, &c, &key))
		return zs_inj_count(ZS_INJ_FOREIGN_CONTEXT);
	zs_tp_format(&c, s->hdr);
	if (c.state == ZS_CTX_INCOMING && c.has_ts)
		add += zs_tracestate_hdr(key, s->hdr);

	if (add > ZS_INJ_HDR_MAX || bpf_msg_push_data(msg, line_end, add, 0))
		return zs_inj_count(ZS_INJ_FAILED);
	/* Keep the header block in one piece: push_data alone leaves three
	 * scatterlist entries, and TCP then sends three segments. */
	line_end &= 511;
	if (bpf_msg_pull_data(msg, 0, sc.end + add, 0) ||
	    (__u64)msg->data + line_end + add > (__u64)msg->data_end) {
		/* the room made for the header must not leave with blanks in it */
		bpf_msg_pop_data(msg, line_end, add, 0);
		return zs_inj_count(ZS_INJ_FAILED);
	}
	p = msg->data;
	end = msg->data_end;
	if (p + line_end + add > end) /* checked above; this form is the verifier's */
		return zs_inj_count(ZS_INJ_FAILED);
	/* a word at a time, then the last bytes one by one. The store is
	 * declared aligned, which q need not be: the compiler would otherwise
	 * split it into eight byte stores (BPF code assumes no unaligned
	 * access), while the verifier and JIT take it as it is where unaligned
	 * access is cheap (x86-64, arm64). */
	for (k = 0; k + 8 <= ZS_INJ_HDR_MAX; k += 8) {
		q = p + line_end + k;
		if (k + 8 > add || q + 8 > end)
			break;
		*(__u64 *)__builtin_assume_aligned(q, 8) = s->hdr_w[k / 8];
	}
	for (; k < ZS_INJ_HDR_MAX; k++) {
		q = p + line_end + k;
		if (k >= add || q + 1 > end)
			break;
		*q = s->hdr[k];
	}

	/* On the wire. The send's DATA record reports it (sock.bpf.c's
	 * zs_sock_send takes it from here), no record of its own. One still
	 * waiting was never reported. */
	if (info->inj.state != ZS_CTX_NONE)
		zs_inj_count(ZS_INJ_UNREPORTED);
	c.via = ZS_VIA_HEADER;
	info->inj = c;
	return zs_inj_count(ZS_INJ_INJECTED);
}

SEC("sk_msg")
int zs_inject(struct sk_msg_md *msg)
{
	__u64 id = bpf_get_current_pid_tgid(), *used;
	__u32 cpu = bpf_get_smp_processor_id(), key;
	struct zs_inj_scratch *s;
	struct zs_sock_info *info;
	struct bpf_sock *sk = msg->sk;
	int slot, verdict = SK_PASS;

	if (!sk || !zs_in_scope(id))
		return SK_PASS;
	info = bpf_sk_storage_get(&sock_info, sk, 0, 0);
	used = bpf_map_lookup_elem(&inj_slots, &cpu);
	if (!info || !info->cookie || !used)
		return SK_PASS;
	slot = zs_inj_slot_take(used);
	if (slot < 0) /* sends preempted on this CPU hold every buffer */
		return zs_inj_count(ZS_INJ_SCRATCH_REUSED);
	key = cpu * ZS_INJ_SLOTS + (__u32)slot;
	s = bpf_map_lookup_elem(&inj_scratch, &key);
	if (s)
		verdict = zs_inject_msg(msg, info, s, id);
	__sync_fetch_and_and(used, ~(1ULL << slot));
	return verdict;
}

/*
 * Receive side of enrolled sockets: every skb passes. On kernels whose
 * FIONREAD of a sockmap socket counts only the psock's queue (6.15+), a
 * socket with an sk_msg program alone reports 0 bytes readable while data
 * waits; with this verdict program received data goes through that queue
 * and FIONREAD is right again. Attached only when the loader's self-test
 * shows it is needed.
 */
SEC("sk_skb/stream_verdict")
int zs_pass_skb(struct __sk_buff *skb)
{
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
