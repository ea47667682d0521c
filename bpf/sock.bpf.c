// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket data capture: sock:sock_{send,recv}_length fire inside a socket
 * send or receive with its struct sock and byte count; the registers the
 * thread entered the kernel with name the syscall and its buffer, and what
 * is worth copying (message starts and header bytes) goes to the ringbuf.
 * tcp:tcp_sendmsg_locked gives a send's start time (before Linux 6.16,
 * fentry on inet(6)_sendmsg does, and only where the kernel refuses BPF
 * trampolines the write syscalls' entry tracepoints: the only syscall
 * tracepoints, as they put every syscall of every process on a slower
 * path). Before 6.3, fexit programs on inet(6)_sendmsg/recvmsg stand in
 * for sock_{send,recv}_length (Debian 12's 6.1). TCP state changes give
 * each connection its role and its end. Uprobes on TLS
 * libraries (SSL_read/SSL_write, gnutls_record_recv/send) report the
 * plaintext of TLS connections through the same capture path.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "zerospan_abi.h"
#include "lib/http_class.bpf.h"
#include "lib/hdr_scan.bpf.h"
#include "lib/maps.bpf.h"
#include "lib/scope.bpf.h"
#include "lib/trace_ctx.bpf.h"
#include "lib/conn.bpf.h"
#include "lib/tls.bpf.h"
#include "lib/goroutine.bpf.h"
#include "lib/verifier.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ZS_TCP_ESTABLISHED 1
#define ZS_TCP_SYN_SENT 2
#define ZS_TCP_SYN_RECV 3
#define ZS_TCP_CLOSE 7
#define ZS_TCP_LISTEN 10
#define ZS_EEXIST 17 /* errno: an insert found the key there */
#define ZS_MSG_PEEK 2
#define ZS_MSG_TRUNC 0x20
#define ZS_MSG_ERRQUEUE 0x2000
/* task flags (include/linux/sched.h): threads with no syscall of their own */
#define ZS_PF_USER_WORKER 0x00000008 /* vhost, io_uring workers (6.4+) */
#define ZS_PF_IO_WORKER 0x00000010
#define ZS_PF_KTHREAD 0x00200000

/* Knobs, set by the loader between open and load. */
const volatile __u32 capture_size = ZS_CAPTURE_MAX;
const volatile __u64 wakeup_bytes = 256 * 1024; /* per CPU */
/* Injection on: give each request a server reads a context (thread_ctx). */
const volatile __u8 make_contexts = 0;
/* Root sampling: sampled when (the trace id's low 8 bytes >> 11) is below
 * this (zs_ratio_sampled); parentbased unless sample_ignore_parent. */
const volatile __u64 sample_threshold = 1ULL << 53;
const volatile __u8 sample_ignore_parent = 0;
/* TLS uprobes are attached: look for their calls around socket I/O. */
const volatile __u8 tls_hooks = 0;
/* Go net/http uprobes are loaded (with the TLS ones): key a Go program's
 * requests by goroutine (goroutine.bpf.h). */
const volatile __u8 go_hooks = 0;
/* The reads and writes captured in sock_{recv,send}_length, by syscall
 * number: enum zs_op, 0 for the others (the loader fills it from its own
 * <sys/syscall.h>). Read at a variable index, so the verifier takes the op
 * for any value and checks the capture once, not once per syscall. */
#define ZS_SYSCALL_OPS 512
const volatile __u8 syscall_ops[ZS_SYSCALL_OPS] = {};

/* The syscall number and first arguments a task entered the kernel with,
 * read straight from the BTF-typed registers bpf_task_pt_regs gives (no
 * probe-read helper calls). */
#if defined(__TARGET_ARCH_x86)
#define ZS_SYSCALL_NR(r) ((r)->orig_ax)
#define ZS_SYSCALL_ARG1(r) ((r)->di)
#define ZS_SYSCALL_ARG2(r) ((r)->si)
#define ZS_SYSCALL_ARG3(r) ((r)->dx)
#elif defined(__TARGET_ARCH_arm64)
#define ZS_SYSCALL_NR(r) ((r)->syscallno)
#define ZS_SYSCALL_ARG1(r) ((r)->orig_x0)
#define ZS_SYSCALL_ARG2(r) ((r)->regs[1])
#define ZS_SYSCALL_ARG3(r) ((r)->regs[2])
#else
#error "ZS_SYSCALL_*: the syscall registers of this architecture"
#endif

/* Scratch for one tracestate per CPU (the value is too large for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zs_tstate);
} ts_scratch SEC(".maps");

/* Bytes this CPU queued since it last woke the consumer; key 0, written and
 * reset here only. Per CPU so no two CPUs share a cache line on every event
 * (bpf_ringbuf_query reads the ring's shared producer/consumer positions). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} unwoken SEC(".maps");

/* Drop counters by enum zs_drop_cause; written here, read by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ZS_DROP__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Connections let go, by enum zs_let_go_reason; read by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ZS_LET_GO__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} let_go SEC(".maps");

/* When a thread's TCP send on socket sk began: set by tcp_sendmsg_locked
 * (before the data can reach the peer) or a write syscall's entry, taken
 * by that send's sock_send_length. */
struct zs_send_start {
	__u64 sk;
	__u64 ts;
};

/* Task storage, not a hash by pid_tgid: after a thread's first send it is a
 * cached pointer, with no element to allocate and free per call, and it
 * goes away with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct zs_send_start);
} send_start SEC(".maps");

/* The TLS library call the thread is in (active), written at the call's
 * entry, completed by a socket read/write the call makes, ended at its
 * return. Task storage: a cached pointer after the thread's first call, and
 * a thread killed inside a call takes its entry with it. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct zs_tls_call);
} tls_calls SEC(".maps");

/* Which socket a TLS session (pointer, tgid) uses: for calls served from the
 * library's buffer. Deleted when the connection closes; LRU bounds the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct zs_ssl_key);
	__type(value, struct zs_sock_ref);
} ssl_conns SEC(".maps");

/* The last socket each thread read non-HTTP bytes (ciphertext) from, key:
 * pid_tgid. Apps with memory BIOs (node) call SSL_read after such a read. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct zs_sock_ref);
} thread_rx SEC(".maps");

/* Contexts of TLS requests sent by clients on this host, by connection
 * (client view), taken by the server's read of the request: a header cannot
 * be inserted into TLS, so the kernel hands the context over. Entries of
 * servers on other hosts age out (LRU). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct zs_tuple_key);
	__type(value, struct zs_kernel_ctx);
} handoff SEC(".maps");

/* Scratch for one DATA record: header plus twice the capture size, so that
 * offset + length stays provably inside it for the verifier. Indexed by CPU:
 * a per-CPU array value may not exceed 32 KiB (PCPU_MIN_UNIT_SIZE, E2BIG).
 * The loader sets max_entries to the number of possible CPUs. */
struct zs_scratch {
	/* a connection's CONN record, sent with its first DATA record: the
	 * two are one output from conn (zs_emit_data), so ev follows it */
	struct zs_conn_event conn;
	struct zs_data_event ev;
	__u8 payload[2 * ZS_CAPTURE_MAX];
	/* not sent: a TLS request's connection and the context its client
	 * handed off (zs_tls_handoff), for zs_server_ctx */
	struct zs_tuple_key tuple;
	struct zs_kernel_ctx handoff;
	/* not sent: the trace context headers found in payload
	 * (zs_ctx_scan), for zs_server_ctx and zs_tls_handoff */
	struct zs_tp_scan tps;
	/* not sent: a vectored chunk's tail as zs_tail_cb assembles it */
	__u8 tail_tmp[2 * ZS_TAIL_LEN];
	/* not sent: the thread (pid_tgid) of the capture that last began to
	 * use this buffer (zs_capture: a preempted uprobe program finds
	 * another's). Only the thread itself writes its own id. */
	__u64 owner;
	/* not sent: does conn go out before ev (ZS_ANNOUNCE*, zs_emit_data)?
	 * Kept here, not in a variable, so that the verifier does not check
	 * the rest of the capture once for each value */
	__u32 announce;
	/* not sent: the goroutine a request starting in this chunk is for
	 * (zs_go_flow), 0 outside Go programs */
	__u32 go_flow;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct zs_scratch);
} scratch SEC(".maps");
_Static_assert(__builtin_offsetof(struct zs_scratch, ev) == sizeof(struct zs_conn_event),
	       "the CONN record and the DATA record are one output");

static __always_inline void zs_drop(__u32 cause)
{
	zs_counter_inc(&drops, cause);
}

/* ---- Go programs: requests by goroutine (lib/goroutine.bpf.h) ---- */

/* Processes whose net/http probes fired: tgid -> the process's start time
 * (a reused pid is not one of them). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} go_procs SEC(".maps");

struct zs_go_key {
	__u32 tgid;
	__u32 _pad;
	__u64 ptr; /* a *http.Request, or a g */
};

struct zs_go_owner {
	__u32 flow; /* the goroutine whose request it is */
	__u32 _pad;
	__u64 ts; /* when handed off */
};

/* Requests a handler's roundTrip queued for a writer: *Request -> the
 * handler's goroutine. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct zs_go_key);
	__type(value, struct zs_go_owner);
} go_reqs SEC(".maps");

/* Writer goroutines: g -> the goroutine whose request it writes now. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct zs_go_key);
	__type(value, struct zs_go_owner);
} go_writers SEC(".maps");

static __always_inline __u64 zs_task_start(void)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return BPF_CORE_READ(t, group_leader, start_time);
}

/* Is the current process a Go program whose net/http probes fired? */
static __always_inline int zs_go_proc(__u32 tgid)
{
	__u64 *start = go_hooks ? bpf_map_lookup_elem(&go_procs, &tgid) : NULL;

	return start && *start == zs_task_start();
}

/* Go's register ABI: the running goroutine's g and a function's first two
 * arguments (integer registers). */
#if defined(__TARGET_ARCH_x86)
#define ZS_GO_G(r) ((r)->r14)
#define ZS_GO_ARG1(r) ((r)->ax)
#define ZS_GO_ARG2(r) ((r)->bx)
#elif defined(__TARGET_ARCH_arm64)
#define ZS_GO_G(r) ((r)->regs[28])
#define ZS_GO_ARG1(r) ((r)->regs[0])
#define ZS_GO_ARG2(r) ((r)->regs[1])
#endif

/* The running goroutine's g, at the syscall (the registers it entered the
 * kernel with). */
static __always_inline __u64 zs_go_g(void)
{
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return r ? ZS_GO_G(r) : 0;
}

/* Go programs marked in go_procs so far: a connection judged not a Go
 * program's looks again only once this moved (zs_conn_state.go_gen). */
__u32 go_gen = 0;

/* The goroutine a request that starts in this chunk (start, op: as in the
 * DATA record) on connection st is for, in a Go program: a request it
 * sends, the handler's that handed it to this writer; else the goroutine's
 * own. 0 elsewhere. With contexts, a response's start drops its goroutine's
 * context: the handler is done, and once its goroutine ends its g is reused
 * (a fan-out goroutine that reads no request would find an old request's
 * context under its key). A global function: the verifier checks it once,
 * not once per path of zs_capture (which then exceeded the 1M instruction
 * budget). */
__noinline __u32 zs_go_flow(__u64 id, __u32 dir, __u32 start, __u32 op, struct zs_conn_state *st)
{
	struct zs_go_key k = { .tgid = id >> 32 };
	struct zs_go_owner *o;
	__u32 gen = go_gen + 1;
	__u64 key;

	if (!go_hooks || !st || op >= ZS_OP_TLS_WRITE ||
	    (start != ZS_START_REQUEST &&
	     !(start == ZS_START_RESPONSE && dir == ZS_DIR_EGRESS && make_contexts)))
		return 0;
	/* a process that is not a Go program costs no lookup a request */
	if (!st->go) {
		if (st->go_gen == gen)
			return 0;
		st->go_gen = gen;
		if (!zs_go_proc(k.tgid))
			return 0;
		st->go = 1;
	}
	k.ptr = zs_go_g();
	if (!k.ptr)
		return 0;
	if (start == ZS_START_RESPONSE) {
		key = zs_go_ctx_key(k.tgid, zs_go_flow_of(k.ptr));
		bpf_map_delete_elem(&thread_ctx, &key);
		return 0;
	}
	if (dir == ZS_DIR_EGRESS && (o = bpf_map_lookup_elem(&go_writers, &k)) &&
	    zs_go_fresh(o->ts, bpf_ktime_get_ns()))
		return o->flow;
	return zs_go_flow_of(k.ptr);
}

/* Wake the consumer only once this CPU queued enough: one wakeup per event
 * halves throughput on loopback; userspace also drains every 100 ms. */
static __always_inline __u64 zs_rb_flags(__u64 adding)
{
	__u32 zero = 0;
	__u64 *q = bpf_map_lookup_elem(&unwoken, &zero);

	if (!q)
		return BPF_RB_FORCE_WAKEUP;
	*q += adding;
	if (*q < wakeup_bytes)
		return BPF_RB_NO_WAKEUP;
	*q = 0;
	return BPF_RB_FORCE_WAKEUP;
}

/* Inserts a connection's fresh state; returns the map's error (-EEXIST:
 * an entry already there, left as it is). */
static __always_inline long zs_conn_insert(__u64 cookie, const struct sock *sk, __u8 role,
					   __u32 tgid)
{
	struct zs_conn_state fresh = {};

	fresh.role = role;
	fresh.tgid = tgid;
	if (tgid && role == ZS_ROLE_CLIENT) {
		/* made at connect(), in the connecting thread (zs_set_state) */
		fresh.connect_tid = (__u32)bpf_get_current_pid_tgid();
		fresh.connect_ns = bpf_ktime_get_ns();
	}
	fresh.ignored = !zs_ports_in_scope(sk);
	return bpf_map_update_elem(&conns, &cookie, &fresh, BPF_NOEXIST);
}

/* Creates the state of a connection just made (SYN_SENT, or accepted): one
 * insert, no lookup. */
static __always_inline void zs_conn_new(__u64 cookie, const struct sock *sk, __u8 role, __u32 tgid)
{
	long err = zs_conn_insert(cookie, sk, role, tgid);

	if (err && err != -ZS_EEXIST)
		zs_drop(ZS_DROP_CONN_MAP_FULL);
}

/* Finds or creates the state of a connection. Not for a socket already
 * closed: its state went at TCP_CLOSE (and its CLOSE record to the agent),
 * and the bytes an app still reads from it after a reset would have started
 * it anew, of unknown role, from a mid-message byte: a response's "T" read
 * alone made a "request" served by the reading process, whose children's
 * calls then all continued that context (2026-12-03, scripts/soak.py). */
static __always_inline struct zs_conn_state *zs_conn_get(__u64 cookie, const struct sock *sk,
							 __u8 role, __u32 tgid)
{
	struct zs_conn_state *st = bpf_map_lookup_elem(&conns, &cookie);

	if (st)
		return st;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == ZS_TCP_CLOSE)
		return NULL;
	zs_conn_insert(cookie, sk, role, tgid);
	st = bpf_map_lookup_elem(&conns, &cookie);
	if (!st)
		zs_drop(ZS_DROP_CONN_MAP_FULL);
	return st;
}

/* ---- copy and report ---- */

/* iovecs walked back from the last one to assemble a chunk's tail. */
#define ZS_TAIL_SEGS 4

/* Its buffer is the scratch's tail_tmp, not on the stack: Linux 6.8 and older
 * round each frame of a call chain up to 32 bytes, and with tmp[] here this
 * callback's chain took 544 of the 512 bytes they allow (Ubuntu 24.04's 6.8
 * refused the capture programs). */
struct zs_tail_ctx {
	struct zs_scratch *s; /* tail bytes go to s->tail_tmp */
	__u64 iov_arr;
	__u64 last_take; /* bytes used of the last iovec (a read may fill it partly) */
	__u32 last_idx;
	__u32 rem; /* tail bytes still wanted; they fill tail_tmp[] from the end */
};

/* bpf_loop callback: one iovec, walking backwards. In a loop callback so the
 * verifier checks it once, not once per path of the unrolled copy loop. */
static long zs_tail_cb(__u64 k, void *data)
{
	struct zs_tail_ctx *c = data;
	struct iovec iov;
	__u64 take;
	__u32 n, at;

	if (k > c->last_idx || c->rem == 0)
		return 1;
	if (bpf_probe_read_user(&iov, sizeof(iov),
				(void *)(c->iov_arr + (c->last_idx - k) * sizeof(iov))))
		return 1;
	take = k == 0 ? c->last_take : iov.iov_len;
	n = take < c->rem ? (__u32)take : c->rem;
	at = c->rem - n;
	zs_clamp_umax(at, ZS_TAIL_LEN);
	zs_clamp_umax(n, ZS_TAIL_LEN);
	if (bpf_probe_read_user(&c->s->tail_tmp[at], n, (void *)((__u64)iov.iov_base + take - n)))
		return 1;
	c->rem -= n;
	return 0;
}

/*
 * Copies up to want bytes of the data the syscall moved into s->payload and,
 * when the chunk is not copied whole, its last bytes (up to ZS_TAIL_LEN, from
 * the last ZS_TAIL_SEGS iovecs) into s->ev.tail. have: bytes zs_peek already
 * put there from the first iovec (or buffer); enough of them spare a copy.
 * Returns the bytes copied. A global function: the verifier checks it once
 * for any have and want, not once per path of zs_capture (which then
 * exceeded the 1M instruction budget).
 */
__noinline __u32 zs_copy_payload(struct zs_scratch *s, const struct zs_pending *p, __u64 len,
				 __u32 want, __u32 have)
{
	__u32 off = 0, i, last_idx = 0, tl;
	__u64 left = len, last_take = 0;
	__u8 *tail, *tail_len;

	if (!s || !p)
		return 0;
	tail = s->ev.tail;
	tail_len = &s->ev.tail_len;
	*tail_len = 0;
	if (ZS_OP_IS_FLAT(p->op)) {
		zs_clamp_umax(want, ZS_CAPTURE_MAX);
		if (want > have && bpf_probe_read_user(s->payload, want, (void *)p->buf)) {
			zs_drop(ZS_DROP_READ_FAILED);
			return 0;
		}
		if (want < len) {
			tl = len < ZS_TAIL_LEN ? (__u32)len : ZS_TAIL_LEN;
			zs_clamp_umax(tl, ZS_TAIL_LEN);
			if (!bpf_probe_read_user(tail, tl, (void *)(p->buf + len - tl)))
				*tail_len = tl;
		}
		return want;
	}
	if (want == len && want <= have)
		return want; /* all in the first iovec, peeked */
#pragma unroll
	for (i = 0; i < ZS_IOV_MAX; i++) {
		struct iovec iov;
		__u64 take;
		__u32 n, o;

		if (i >= p->iovcnt || left == 0)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(p->buf + i * sizeof(iov))))
			break;
		take = iov.iov_len < left ? iov.iov_len : left;
		left -= take;
		if (take == 0)
			continue;
		last_idx = i;
		last_take = take;
		if (off >= want || off >= ZS_CAPTURE_MAX)
			continue;
		n = take < want - off ? (__u32)take : want - off;
		o = off;
		zs_clamp_umax(o, ZS_CAPTURE_MAX - 1);
		zs_clamp_umax(n, ZS_CAPTURE_MAX);
		if (bpf_probe_read_user(&s->payload[o], n, iov.iov_base)) {
			zs_drop(ZS_DROP_READ_FAILED);
			break;
		}
		off += n;
	}
	if (left) {
		zs_drop(ZS_DROP_IOV_TRUNCATED);
		return off;
	}
	if (off < len && last_take) {
		struct zs_tail_ctx tc = {
			.s = s,
			.iov_arr = p->buf,
			.last_take = last_take,
			.last_idx = last_idx,
			.rem = ZS_TAIL_LEN,
		};
		__u32 j, r;

		bpf_loop(ZS_TAIL_SEGS, zs_tail_cb, &tc, 0);
		r = tc.rem;
		tl = ZS_TAIL_LEN - r;
#pragma unroll
		for (j = 0; j < ZS_TAIL_LEN; j++)
			tail[j] = s->tail_tmp[(r + j) & (2 * ZS_TAIL_LEN - 1)];
		*tail_len = tl;
	}
	return off;
}

/* Bytes zs_peek reads: a header block of a common size, so that most
 * message starts need no second copy (each helper call costs; a few hundred
 * bytes more to copy cost little). */
#define ZS_PEEK_LEN 512
/* Chunks longer than this whose header block ends in the peeked bytes are
 * not copied further (below it, copying costs less than the tail's read). */
#define ZS_PREFIX_CUT_MIN (2 * ZS_PEEK_LEN)

/* Reads the data's first bytes (of the first iovec for vectored calls, at
 * most ZS_PEEK_LEN) into s->payload: the classifier's head, and often all
 * zs_copy_payload wants. Returns how many. */
static __always_inline __u32 zs_peek(struct zs_scratch *s, const struct zs_pending *p, __u64 len)
{
	__u64 base = p->buf, n = len;

	if (!ZS_OP_IS_FLAT(p->op)) {
		struct iovec iov;

		if (!p->iovcnt || bpf_probe_read_user(&iov, sizeof(iov), (void *)p->buf))
			return 0;
		base = (__u64)iov.iov_base;
		n = iov.iov_len < len ? iov.iov_len : len;
	}
	if (n > ZS_PEEK_LEN)
		n = ZS_PEEK_LEN;
	if (bpf_probe_read_user(s->payload, n & (2 * ZS_PEEK_LEN - 1), (void *)base))
		return 0;
	return n;
}

/* The chunk was copied whole, then cut after its headers: its tail is in payload. */
static __always_inline void zs_tail_from_payload(struct zs_scratch *s, __u64 len)
{
	__u32 tl = len < ZS_TAIL_LEN ? (__u32)len : ZS_TAIL_LEN, k;

#pragma unroll
	for (k = 0; k < ZS_TAIL_LEN; k++)
		s->ev.tail[k] = s->payload[(len - tl + k) & (2 * ZS_CAPTURE_MAX - 1)];
	s->ev.tail_len = tl;
}

/* Processes (tgid -> start time) whose first connection already woke the
 * agent. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} woken_procs SEC(".maps");

/* Is this the first connection the current process announces? The agent then
 * wakes at once and reads the process's /proc entry (service name,
 * executable) while it still exists: a short-lived client may be gone before
 * the agent's next drain. Once per process, so no cost per request. A global
 * function: verified once, apart from its callers. */
__noinline int zs_first_conn_of_proc(__u32 tgid)
{
	__u64 start = bpf_get_current_task_btf()->group_leader->start_time;
	__u64 *seen = bpf_map_lookup_elem(&woken_procs, &tgid);

	if (seen && *seen == start)
		return 0;
	bpf_map_update_elem(&woken_procs, &tgid, &start, BPF_ANY);
	return 1;
}

/* A connection's CONN record, announced from inside a send or receive:
 * current is the connection's process. typed (a constant): bsk is sk as a
 * BTF-typed pointer (a socket call's), read with plain loads; else (a TLS
 * call's) sk is read with helper calls. */
static __always_inline void zs_conn_fill(struct zs_conn_event *ev, __u64 cookie,
					 const struct sock *sk, const struct sock *bsk,
					 const int typed, const struct zs_conn_state *st, __u64 id)
{
	__builtin_memset(ev, 0, sizeof(*ev));
	zs_hdr_fill(&ev->hdr, ZS_EV_CONN, sizeof(*ev), id, cookie);
	ev->role = st->role;
	ev->tls = st->tls;
	ev->connect_tid = st->connect_tid;
	ev->connect_ns = st->connect_ns;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	ev->ppid = bpf_get_current_task_btf()->real_parent->tgid;
	if (typed)
		zs_conn_fill_tuple_btf(ev, bsk);
	else
		zs_conn_fill_tuple(ev, sk);
}

/* The CONN record alone (a PROXY record follows it). */
static __always_inline int zs_emit_conn(__u64 cookie, const struct sock *sk,
					const struct zs_conn_state *st, __u64 id)
{
	__u64 flags = zs_rb_flags(sizeof(struct zs_conn_event));
	struct zs_conn_event *ev;

	if (zs_first_conn_of_proc(id >> 32))
		flags = BPF_RB_FORCE_WAKEUP;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		zs_drop(ZS_DROP_RINGBUF_FULL);
		return -1;
	}
	zs_conn_fill(ev, cookie, sk, NULL, 0, st, id);
	bpf_ringbuf_submit(ev, flags);
	return 0;
}

/* zs_emit_data's announce: the CONN record in s->conn goes first; WAKE: it
 * is its process's first (zs_first_conn_of_proc) */
#define ZS_ANNOUNCE 1
#define ZS_ANNOUNCE_WAKE 2

/* The request's tracestate goes with its context (thread_ts), if any;
 * c->has_ts says whether it did. Since a stale entry is never read without
 * that flag, none is deleted: most requests carry no tracestate, and each
 * of them took two lookups (and deletes) to clear the thread's and the
 * process's entries. */
static __always_inline void zs_keep_tracestate(struct zs_scratch *s, const struct zs_tp_scan *sc,
					       struct zs_kernel_ctx *c, __u64 id, __u64 proc_key)
{
	__u32 zero = 0, len = sc->ts_len;
	struct zs_tstate *ts;
	__u64 go_key;

	c->has_ts = 0;
	if (c->state != ZS_CTX_INCOMING || sc->ts_count != 1 || len == 0 || len > ZS_TS_MAX ||
	    !(ts = bpf_map_lookup_elem(&ts_scratch, &zero)))
		return;
	zs_clamp_umax(len, ZS_TS_MAX);
	if (bpf_probe_read_kernel(ts->data, len, &s->payload[sc->ts_value & (ZS_CAPTURE_MAX - 1)]))
		return;
	ts->len = len;
	c->has_ts = bpf_map_update_elem(&thread_ts, &id, ts, BPF_ANY) == 0 &&
		    bpf_map_update_elem(&thread_ts, &proc_key, ts, BPF_ANY) == 0;
	/* and for the goroutine that read it (zs_go_write hands it on) */
	go_key = zs_go_ctx_key(id >> 32, s->go_flow);
	if (c->has_ts && s->go_flow)
		c->has_ts = bpf_map_update_elem(&thread_ts, &go_key, ts, BPF_ANY) == 0;
}

/* zs_server_ctx: no need to look at later chunks of this header block. */
#define ZS_SCAN_ENDED 1

/*
 * Finds the trace context headers in the got bytes of s->payload, into
 * s->tps (lead_nl: the previous chunk ended a line, so one may start at 0).
 * Here, in the program's own frame, not inside the global functions that
 * use what it found: under zs_server_ctx the scan's calls (bpf_loop's
 * callback, zs_tp_word, zs_tp_nl) made a chain of 688 bytes, over the 512
 * a chain may have where the kernel gives the program no private stack
 * (kernels before 6.13; uprobe programs on 6.18.44). From here it takes 384
 * (tests/bpf/stack_depth.py).
 */
static __always_inline void zs_ctx_scan(struct zs_scratch *s, __u32 got, __u32 lead_nl)
{
	__builtin_memset(&s->tps, 0, sizeof(s->tps));
	s->tps.n = got;
	if (!lead_nl || !zs_tp_line_in(&s->tps, s->payload, 0))
		zs_tp_scan_in(&s->tps, s->payload);
}

/*
 * A server read the start of a request: decide its trace context (the
 * request's valid traceparent, else a new trace), remember it for the
 * thread and process, and report it in the DATA event. more: a later chunk
 * of a header block whose start had no traceparent; a traceparent or B3
 * found there replaces the provisional new trace. s->tps: what zs_ctx_scan
 * found in the got bytes. A global function: the verifier checks it once,
 * not once per path of zs_capture (which then exceeded the 1M instruction
 * budget).
 */
__noinline int zs_server_ctx(struct zs_scratch *s, __u32 got, __u64 id, __u32 more)
{
	struct zs_tp_scan *sc;
	struct zs_kernel_ctx *c;
	__u64 proc_key = (id & 0xffffffff00000000ULL) | 0xffffffffULL;

	if (!s || got > ZS_CAPTURE_MAX)
		return 0;
	c = &s->ev.ctx;
	sc = &s->tps;
	if (sc->count == 1 && zs_tp_parse(s->payload, sc->value, got, c) == 0) {
		c->state = ZS_CTX_INCOMING;
		if (sample_ignore_parent)
			c->flags =
				(c->flags & ~1) | zs_ratio_sampled(c->trace_id, sample_threshold);
	} else if (sc->b3 || (sc->count && more)) {
		/* B3 (userspace reads it), or an invalid traceparent in a later
		 * chunk of a split block: userspace judges the whole block */
		__builtin_memset(c, 0, sizeof(*c));
		c->state = ZS_CTX_FOREIGN;
	} else if (more) {
		return sc->end ? ZS_SCAN_ENDED : 0; /* nothing new in this chunk */
	} else if (s->handoff.state != ZS_CTX_NONE) {
		/* a TLS client on this host sent it: its context, handed off */
		*c = s->handoff;
		c->state = ZS_CTX_INCOMING;
		c->via = 0;
	} else {
		zs_random_id(c->trace_id, 16, id);
		__builtin_memset(c->span_id, 0, sizeof(c->span_id));
		c->state = ZS_CTX_ROOT;
		c->flags = zs_ratio_sampled(c->trace_id, sample_threshold);
	}
	/* for the thread (its injector and TLS handoff), then its process
	 * (its other threads and children), in place (zs_ctx_put) */
	zs_keep_tracestate(s, sc, c, id, proc_key);
	zs_ctx_put(id, c);
	zs_ctx_put(proc_key, c);
	/* the goroutine's, for its writer (zs_go_write) */
	if (s->go_flow)
		zs_ctx_put(zs_go_ctx_key(id >> 32, s->go_flow), c);
	return (sc->end || c->state != ZS_CTX_ROOT) ? ZS_SCAN_ENDED : 0;
}

/*
 * A TLS client sends a request (the first bytes in s->payload, scanned into
 * s->tps) on the connection s->tuple: it cannot carry an inserted
 * traceparent, so its context (zs_call_ctx, as the injector's) goes to the
 * handoff map for a server on this host, and to the agent in the request's
 * DATA record (via HANDOFF) for the CLIENT span. A request with its own
 * traceparent or B3 is left to its header. One handed off already when the
 * write's first bytes went to the socket (s->handoff, zs_tls_send_begin; s->tps
 * is then not filled) is only reported. A global function: verified once.
 */
__noinline int zs_tls_handoff(struct zs_scratch *s, __u64 id)
{
	struct zs_kernel_ctx c = {};
	struct zs_tuple_key k;
	__u64 key = 0;

	if (!s)
		return 0;
	if (s->handoff.state != ZS_CTX_NONE) {
		/* handed off as its bytes went out (zs_tls_send_begin, which
		 * found no context of its own in its whole header block) */
		s->ev.ctx = s->handoff;
		return 0;
	}
	if (s->tps.count || s->tps.b3) {
		/* its own context travels in its header (which a server on
		 * this host prefers to a handoff) */
		__builtin_memset(&s->ev.ctx, 0, sizeof(s->ev.ctx));
		return 0;
	}
	if (zs_call_ctx(id, sample_threshold, &c, &key))
		return 0;
	c.via = ZS_VIA_HANDOFF;
	k = s->tuple; /* a map key from a function's argument: Linux 6.2+ */
	bpf_map_update_elem(&handoff, &k, &c, BPF_ANY);
	s->ev.ctx = c; /* reported with the request's DATA record */
	return 0;
}

/* A thread read non-HTTP bytes (ciphertext, perhaps) from a socket. The
 * entry is written in place: it is the thread's own, and an LRU update takes
 * a new element each time (a TLS handshake reads a socket several times). */
static __always_inline void zs_note_rx(__u64 id, const struct zs_pending *p)
{
	struct zs_sock_ref ref = { .cookie = p->cookie, .sk = p->sk }, *e;

	if (!tls_hooks || p->dir != ZS_DIR_INGRESS)
		return;
	e = bpf_map_lookup_elem(&thread_rx, &id);
	if (!e) {
		bpf_map_update_elem(&thread_rx, &id, &ref, BPF_ANY);
	} else if (e->cookie != ref.cookie || e->sk != ref.sk) {
		e->cookie = ref.cookie;
		e->sk = ref.sk;
	}
}

/*
 * The length of the PROXY protocol header that the len bytes of p (a
 * connection's first chunk, one buffer) start with, or 0 (zs_proxy_hdr_len
 * on their first bytes, read into s->payload). A server that read one
 * announces the connection and sends the header's bytes (PROXY record): the
 * agent takes the load balancer's client from it. A global function:
 * verified once, apart from zs_capture's paths.
 */
__noinline __u32 zs_proxy_first(struct zs_scratch *s, struct zs_conn_state *st,
				const struct zs_pending *p, __u64 len, __u64 id)
{
	__u32 n = len < ZS_PROXY_V1_MAX ? (__u32)len : ZS_PROXY_V1_MAX, hl;
	struct zs_proxy_event *ev;

	if (!s || !st || !p || n < 8 || bpf_probe_read_user(s->payload, n, (void *)p->buf))
		return 0;
	hl = zs_proxy_hdr_len(s->payload, n);
	if (!hl || p->dir != ZS_DIR_INGRESS || st->role != ZS_ROLE_SERVER)
		return hl;
	if (!st->announced) {
		if (zs_emit_conn(p->cookie, (const struct sock *)p->sk, st, id))
			return hl;
		st->announced = 1;
	}
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		zs_drop(ZS_DROP_RINGBUF_FULL);
		return hl;
	}
	zs_hdr_fill(&ev->hdr, ZS_EV_PROXY, sizeof(*ev), id, p->cookie);
	ev->len = hl < n ? hl : n;
	__builtin_memset(ev->_pad, 0, sizeof(ev->_pad));
	if (bpf_probe_read_kernel(ev->bytes, sizeof(ev->bytes), s->payload))
		ev->len = 0;
	bpf_ringbuf_submit(ev, zs_rb_flags(sizeof(*ev)));
	return hl;
}

/* zs_io_done: the bytes were a TLS library call's ciphertext */
#define ZS_IO_TLS 1
/* zs_io_done, zs_capture: they were a socket's first bytes, and neither
 * HTTP/1.x nor TLS (zs_first_is_opaque) */
#define ZS_IO_OPAQUE 2

/*
 * Sends the DATA record in s (got bytes of payload), with the CONN record in
 * s->conn before it, in the same sample, when s->announce says so. Returns 1
 * when sent with the CONN record, 0 without, -1 when not sent (counted).
 * owner: the thread of a
 * uprobe program, which the kernel may preempt (a tracepoint's it cannot),
 * or 0. If another capture on this CPU used s in the meantime (s->owner is
 * no longer it), the record would carry some of its bytes: not sent, but
 * counted; the agent sees the gap in this direction's positions and ends or
 * drops the exchange. The output's own copy, after the test, is not
 * covered. A global function: its frame is apart from the programs', which
 * the deepest call chain adds to.
 */
__noinline int zs_emit_data(struct zs_scratch *s, __u32 got, __u64 owner)
{
	__u32 size, announce;
	__u64 flags;

	if (!s)
		return -1;
	if (owner && s->owner != owner) {
		zs_drop(ZS_DROP_SCRATCH_REUSED);
		return -1;
	}
	zs_clamp_umax(got, ZS_CAPTURE_MAX);
	size = sizeof(s->ev) + got;
	announce = s->announce;
	if (announce) {
		size += sizeof(s->conn);
		flags = announce == ZS_ANNOUNCE_WAKE ? BPF_RB_FORCE_WAKEUP : zs_rb_flags(size);
		if (bpf_ringbuf_output(&events, &s->conn, size, flags))
			goto full;
		return 1;
	}
	if (bpf_ringbuf_output(&events, &s->ev, size, zs_rb_flags(size)))
		goto full;
	return 0;
full:
	zs_drop(ZS_DROP_RINGBUF_FULL);
	return -1;
}

/*
 * Reports len bytes a socket operation or TLS call moved on connection st:
 * classifies, copies what is worth copying, decides a served request's
 * context, sends the DATA record (and the CONN record first, in one output).
 * typed (a constant): bsk is the socket as a BTF-typed pointer (a socket
 * call's); else only p.sk tells it (a TLS call's).
 * Returns ZS_IO_OPAQUE or 0. preemptible: called from a uprobe program, which
 * (unlike a tracepoint's) the kernel may preempt, so that another thread's
 * program on this CPU can rewrite the scratch buffer in the meantime.
 */
static __always_inline int zs_capture(__u64 id, const struct zs_pending *pp, const struct sock *bsk,
				      const int typed, __u64 len, struct zs_conn_state *st,
				      const int preemptible)
{
	struct zs_pending p = *pp;
	struct zs_scratch *s;
	struct zs_scan_ctx sc = {};
	__u32 cpu = bpf_get_smp_processor_id(), want, got, prev_rolling = 0, have = 0;
	int tls_req, tls_send, server_req;
	__u8 start = ZS_START_NONE, dir = p.dir & 1;
	/* the socket's first bytes, on a connection seen from its start */
	int first = p.op < ZS_OP_TLS_WRITE && st->http == ZS_HTTP_UNKNOWN &&
		    st->role != ZS_ROLE_UNKNOWN && st->pos[0] == 0 && st->pos[1] == 0;

	s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s)
		return 0;
	s->owner = id;
	s->announce = 0;

	/* A PROXY protocol header first (a load balancer's): the connection is
	 * judged by what follows it, in this chunk or the next, whose bytes
	 * are then the first (the stream's positions leave the header out;
	 * the header goes to the agent in a PROXY record).
	 * Buffers given as iovecs are not shifted: such a chunk is judged as it
	 * starts. The peeked bytes tell whether to look for one at all. */
	if (p.op != ZS_OP_SENDFILE && st->http != ZS_HTTP_NO)
		have = zs_peek(s, &p, len);
	if (first && ZS_OP_IS_FLAT(p.op) && zs_proxy_maybe(s->payload, have)) {
		__u32 hl = zs_proxy_first(s, st, &p, len, id);

		if (hl >= len)
			return 0;
		p.buf += hl;
		len -= hl;
		have = zs_peek(s, &p, len);
	}
	if (p.op != ZS_OP_SENDFILE && st->http != ZS_HTTP_NO && zs_may_start(st, dir))
		start = zs_classify_start(s->payload, have);
	if (!zs_http_verdict_step(st, start)) {
		st->pos[dir] += len;
		zs_note_rx(id, &p);
		return first && zs_first_is_opaque(s->payload, have) ? ZS_IO_OPAQUE : 0;
	}
	/* the connection's CONN record goes out with this DATA record */
	if (!st->announced) {
		zs_conn_fill(&s->conn, p.cookie, (const struct sock *)p.sk, bsk, typed, st, id);
		s->announce = zs_first_conn_of_proc(id >> 32) ? ZS_ANNOUNCE_WAKE : ZS_ANNOUNCE;
	}

	/* A request starting while an earlier one is unanswered: pipelining.
	 * Responses may then share a read with the previous body, which only
	 * whole-chunk copies let userspace frame. */
	if (start == ZS_START_REQUEST) {
		if (zs_conn_unanswered(st))
			st->pipelined = 1;
		st->req_starts++;
	} else if (start == ZS_START_RESPONSE) {
		st->resp_starts++;
	}
	if (st->pipelined && p.op != ZS_OP_SENDFILE)
		st->budget[dir] = capture_size;
	want = p.op == ZS_OP_SENDFILE ? 0 : zs_copy_len(&st->budget[dir], start, len, capture_size);
	if (start != ZS_START_NONE)
		st->rolling[dir] = 0;
	got = 0;
	s->ev.tail_len = 0;
	/* A long message start whose header block ends, body following, in the
	 * bytes zs_peek read: the rest is not copied only to be cut off (up to
	 * 16 KiB per response read); its tail is read alone. */
	if (start != ZS_START_NONE && !st->pipelined && len > ZS_PREFIX_CUT_MIN && have < want) {
		sc.n = have & (2 * ZS_PEEK_LEN - 1);
		/* not as a response: a block ending right at the peek's end
		 * leaves nothing to cut anyway */
		zs_hdr_scan(s->payload, 0, 0, &sc);
		if (sc.found && sc.cut && sc.blocks == 1)
			want = have;
		else
			__builtin_memset(&sc, 0, sizeof(sc));
	}
	if (p.op != ZS_OP_SENDFILE)
		got = zs_copy_payload(s, &p, len, want, have);
	if (got) {
		zs_clamp_umax(got, ZS_CAPTURE_MAX);
		prev_rolling = st->rolling[dir];
		if (sc.n) {
			/* cut in the peeked bytes: the direction's last bytes are the tail's */
			st->rolling[dir] = zs_rolling_tail(s->ev.tail, s->ev.tail_len, 0);
		} else {
			sc.n = got;
			zs_hdr_scan(s->payload, st->rolling[dir], start == ZS_START_RESPONSE, &sc);
			st->rolling[dir] = zs_rolling_tail(s->payload, got, st->rolling[dir]);
		}
		if (start == ZS_START_REQUEST && sc.blocks > 1)
			st->pipelined = 1; /* several requests in one chunk */
		if (st->pipelined) {
			/* keep every byte copied, budget re-armed above */
		} else if (sc.found) {
			st->budget[dir] = 0;
			if (sc.cut && sc.cut < got) {
				got = sc.cut;
				/* The cut-off body's end still matters (chunked terminator). */
				if (s->ev.tail_len == 0)
					zs_tail_from_payload(s, len);
			}
		} else {
			st->budget[dir] -= got < st->budget[dir] ? got : st->budget[dir];
		}
	}

	s->go_flow = zs_go_flow(id, dir, start, p.op, st);
	if (dir == ZS_DIR_EGRESS && p.inj.state != ZS_CTX_NONE)
		s->ev.ctx = p.inj; /* the traceparent inserted into this send */
	else
		__builtin_memset(&s->ev.ctx, 0, sizeof(s->ev.ctx));
	s->handoff.state = ZS_CTX_NONE;
	/* a TLS request a client sends (zs_tls_handoff), or a request (or a
	 * later chunk of its header block) a server reads (zs_server_ctx) */
	tls_req = make_contexts && st->tls && start == ZS_START_REQUEST && !st->pipelined && got;
	tls_send = tls_req && st->role == ZS_ROLE_CLIENT && dir == ZS_DIR_EGRESS;
	server_req = make_contexts && got && dir == ZS_DIR_INGRESS && st->role != ZS_ROLE_CLIENT &&
		     (start == ZS_START_REQUEST || st->ctx_pending);
	if (tls_send) {
		/* handed off already when its first bytes were sent, its whole
		 * header block scanned then? (read here, not passed down:
		 * zs_tls_exit's frame has no room) */
		struct zs_tls_call *tc =
			bpf_task_storage_get(&tls_calls, bpf_get_current_task_btf(), 0, 0);

		if (tc && tc->handed == 1)
			s->handoff = tc->hctx;
	}
	if (server_req || (tls_send && s->handoff.state == ZS_CTX_NONE))
		zs_ctx_scan(s, got, (prev_rolling & 0xff) == '\n');
	if (tls_req) {
		zs_tuple_key_fill(&s->tuple, (const struct sock *)p.sk, st->role != ZS_ROLE_CLIENT);
		if (tls_send) {
			zs_tls_handoff(s, id);
		} else if (st->role != ZS_ROLE_CLIENT && dir == ZS_DIR_INGRESS) {
			/* the server's end, its role perhaps unknown (seen on
			 * 6.12 for the sockets openssl s_server accepted) */
			struct zs_kernel_ctx *h = bpf_map_lookup_elem(&handoff, &s->tuple);

			if (h) {
				s->handoff = *h;
				bpf_map_delete_elem(&handoff, &s->tuple);
			}
		}
	}
	if (server_req)
		st->ctx_pending = !zs_server_ctx(s, got, id, start != ZS_START_REQUEST);

	/* Sent data carries the time the call began: the peer may have read it
	 * (and ended its span) before this call returns, and a span must not end
	 * after its parent. Received data carries the time it was there. */
	zs_hdr_fill_at(&s->ev.hdr, ZS_EV_DATA, sizeof(s->ev) + got, id, p.cookie,
		       dir == ZS_DIR_EGRESS && p.ts ? p.ts : bpf_ktime_get_ns());
	s->ev.hdr.flow = s->go_flow;
	s->ev.pos = st->pos[dir];
	s->ev.len = len;
	s->ev.cap_len = got;
	s->ev.dir = dir;
	s->ev.op = p.op;
	s->ev.start = start;
	st->pos[dir] += len;
	if (zs_emit_data(s, got, preemptible ? id : 0) == 1)
		st->announced = 1;
	return 0;
}

/* ret bytes moved by the socket call p describes, on a TCP socket;
 * preemptible as zs_capture's. Returns ZS_IO_TLS, ZS_IO_OPAQUE or 0. */
static __always_inline int zs_io_done(__u64 id, const struct zs_pending *pp, const struct sock *bsk,
				      long ret, const int preemptible)
{
	struct zs_tls_call *tc;
	struct zs_conn_state *st;

	st = zs_conn_get(pp->cookie, (const struct sock *)pp->sk, ZS_ROLE_UNKNOWN, id >> 32);
	if (!st)
		return 0;
	/* Ciphertext a TLS call moves: it names the call's socket (also one out
	 * of scope, so that the call is not tied to another by guess). */
	tc = tls_hooks ? bpf_task_storage_get(&tls_calls, bpf_get_current_task_btf(), 0, 0) : NULL;
	if (tc && tc->active) {
		tc->cookie = pp->cookie;
		tc->sk = pp->sk;
		return ZS_IO_TLS;
	}
	if (st->ignored)
		return 0;
	/* A connection is plaintext-at-socket or plaintext-at-library. */
	if (st->tls) {
		zs_note_rx(id, pp);
		return 0;
	}
	/* which takes its own copy of p */
	return zs_capture(id, pp, bsk, 1, (__u64)ret, st, preemptible);
}

/*
 * A connection whose first bytes were neither HTTP/1.x nor TLS (si->opaque,
 * set by zs_mark_opaque) never yields a span: its sends and reads skip the
 * syscall's registers, the connection's state and the payload. Not inside a
 * TLS library call, whose ciphertext names its socket through zs_io_done (a
 * STARTTLS protocol's session); a read still notes the thread's socket for
 * sessions the app feeds itself (zs_note_rx). 1: done with this call.
 */
static __always_inline int zs_opaque_done(const struct zs_sock_info *si, struct sock *sk, __u8 dir)
{
	struct zs_pending p = {};
	struct zs_tls_call *tc;

	if (!si || !si->opaque)
		return 0;
	if (!tls_hooks)
		return 1;
	tc = bpf_task_storage_get(&tls_calls, bpf_get_current_task_btf(), 0, 0);
	if (tc && tc->active)
		return 0;
	if (dir == ZS_DIR_INGRESS) {
		p.dir = dir;
		p.sk = (__u64)sk;
		p.cookie = bpf_get_socket_cookie(sk);
		zs_note_rx(bpf_get_current_pid_tgid(), &p);
	}
	return 1;
}

/* zs_io_done said ZS_IO_OPAQUE: the socket's later calls take zs_opaque_done. */
static __always_inline void zs_mark_opaque(struct zs_sock_info *si, struct sock *sk)
{
	if (!si)
		si = bpf_sk_storage_get(&sock_info, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (si && !si->opaque) {
		si->opaque = 1;
		zs_counter_inc(&let_go, ZS_LET_GO_NOT_HTTP_NOR_TLS);
	}
}

/*
 * The data syscall the current thread is in, from the registers it entered
 * the kernel with: p's op, buffer (or iovec array) and count. 0: none of the
 * reads (dir INGRESS) or writes (EGRESS) traced. io_uring, recvmmsg,
 * sendmmsg and splice move data without one of these and are not traced.
 */
static __always_inline int zs_syscall_io(struct zs_pending *p, __u8 dir)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct user_msghdr m = {};
	struct pt_regs *regs;
	__u64 nr, arg3;

	/* kernel threads and vhost / io_uring workers move socket data outside
	 * any syscall of theirs: their saved registers say nothing about it */
	if (task->flags & (ZS_PF_KTHREAD | ZS_PF_USER_WORKER | ZS_PF_IO_WORKER))
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return 0;
	/* all loads up front: one load reached with different pointer types is
	 * refused ("same insn cannot be used with different pointers") */
	nr = ZS_SYSCALL_NR(regs);
	p->fd = (__u32)ZS_SYSCALL_ARG1(regs);
	p->buf = ZS_SYSCALL_ARG2(regs);
	arg3 = ZS_SYSCALL_ARG3(regs);
	if (nr >= ZS_SYSCALL_OPS)
		return 0;
	p->op = syscall_ops[nr];
	/* the syscalls' ops are 1..9, the sends odd */
	if (p->op == 0 || p->op > ZS_OP_SENDFILE || ((p->op & 1) != (dir == ZS_DIR_EGRESS)))
		return 0;
	p->dir = dir;
	p->iovcnt = (__u32)arg3; /* readv, writev; the others ignore it */
	/* sendmsg and recvmsg (7, 8): the iovecs are in their msghdr. One range
	 * test: naming each op would make the verifier check the rest once for
	 * each (sendfile ignores its buffer: bytes from a file are counted) */
	if ((__u32)(p->op - ZS_OP_SENDMSG) <= ZS_OP_RECVMSG - ZS_OP_SENDMSG) {
		if (bpf_probe_read_user(&m, sizeof(m), (void *)p->buf))
			return 0;
		p->buf = (__u64)m.msg_iov;
		p->iovcnt = (__u32)m.msg_iovlen;
	}
	return 1;
}

/* send_start.sk when a write syscall's entry set the time (fallback below) */
#define ZS_SEND_ANY 1

/* Plaintext bytes of a TLS write looked at for its request's context when
 * its first bytes go to the socket (the injector looks at as many). */
#define ZS_HANDOFF_HEAD 8192

/* zs_tls_send_begin's handoff, from s->tps and s->tuple. The tuple and the
 * scan are this thread's only while s->owner says so (a tp_btf program can
 * be preempted): checked after they are copied out. A global function:
 * verified once, its frame off the scan's call chain. */
__noinline int zs_tls_send_handoff(struct zs_scratch *s, __u64 id, struct zs_tls_call *tc)
{
	struct zs_kernel_ctx c = {};
	struct zs_tuple_key k;
	__u64 key = 0;

	/* a header block that ends in the bytes looked at: the write's return
	 * then reports this context without scanning it again */
	if (!s || !tc || s->tps.count || s->tps.b3 || !s->tps.end)
		return 0;
	k = s->tuple;
	if (s->owner != id || zs_call_ctx(id, sample_threshold, &c, &key))
		return 0;
	c.via = ZS_VIA_HANDOFF;
	bpf_map_update_elem(&handoff, &k, &c, BPF_ANY);
	tc->hctx = c;
	tc->handed = 1;
	return 0;
}

/*
 * A TLS library write (tc, still in the call) begins to send on client
 * socket sk (cookie): before a server on this host can read a byte of it,
 * its request's context goes to the handoff map. Handed off when the write
 * returned instead, the server had often read the request first and started
 * a trace of its own: about one request in five with curl and openssl
 * s_server on loopback (6.18, 2 CPUs), every one in a 6.12 VM. Called from
 * tcp_sendmsg_locked (6.16+) or the write syscalls' entries. Once per call,
 * on its first send.
 */
static __always_inline void zs_tls_send_begin(const struct sock *sk, __u64 cookie, __u64 id)
{
	struct zs_tls_call *tc = bpf_task_storage_get(&tls_calls, bpf_get_current_task_btf(), 0, 0);
	__u32 cpu = bpf_get_smp_processor_id(), n;
	struct zs_conn_state *st;
	struct zs_scratch *s;

	if (!tc || !tc->active || tc->handed || tc->dir != ZS_DIR_EGRESS)
		return;
	tc->handed = 2; /* looked at */
	st = bpf_map_lookup_elem(&conns, &cookie);
	/* not while a request is unanswered (pipelining), as the injector */
	if (!st || st->ignored || st->role != ZS_ROLE_CLIENT || st->pipelined ||
	    zs_conn_unanswered(st))
		return;
	s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s)
		return;
	s->owner = id;
	n = tc->len < ZS_HANDOFF_HEAD ? (__u32)tc->len : ZS_HANDOFF_HEAD;
	if (n < ZS_CLASSIFY_LEN ||
	    bpf_probe_read_user(s->payload, n & (2 * ZS_HANDOFF_HEAD - 1), (void *)tc->buf) ||
	    zs_classify_start(s->payload, n) != ZS_START_REQUEST)
		return;
	zs_ctx_scan(s, n, 0);
	zs_tuple_key_fill(&s->tuple, sk, 0);
	zs_tls_send_handoff(s, id, tc);
}

/* The thread's send starts now, on socket sk (or ZS_SEND_ANY); with
 * keep, a start already set for sk stays. */
static __always_inline void zs_send_mark(__u64 sk, int keep)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct zs_send_start *ss;

	if ((task->flags & ZS_PF_KTHREAD) || !zs_in_scope(bpf_get_current_pid_tgid()))
		return;
	ss = bpf_task_storage_get(&send_start, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ss) {
		zs_drop(ZS_DROP_PENDING_MAP_FULL);
		return;
	}
	if (keep && ss->sk == sk)
		return;
	ss->sk = sk;
	ss->ts = bpf_ktime_get_ns();
}

/*
 * A TCP send begins: before its first segment can reach the peer, so the
 * peer cannot have read (and ended its span) earlier than this.
 * tcp_sendmsg_locked fires once per socket buffer the send fills: the first
 * one of the send counts (fentry on inet(6)_sendmsg, once per send).
 */
static __always_inline int zs_send_starts(const struct sock *sk)
{
	struct zs_sock_info *si = bpf_sk_storage_get(&sock_info, (struct sock *)sk, 0, 0);

	if (si && si->opaque) /* no span: no start time */
		return 0;
	zs_send_mark((__u64)sk, 1);
	/* a client socket that carries TLS (its ClientHello seen by the
	 * injector, or a TLS call's send) */
	if (make_contexts && tls_hooks && si && si->tls)
		zs_tls_send_begin(sk, bpf_get_socket_cookie((struct sock *)sk),
				  bpf_get_current_pid_tgid());
	return 0;
}

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(zs_send_begin, const struct sock *sk, const struct msghdr *msg,
	     const struct sk_buff *skb, int size_goal)
{
	return zs_send_starts(sk);
}

/* Before Linux 6.16 (no tcp_sendmsg_locked), where the kernel refuses the
 * fentry programs below, the write syscalls' entries give the start time
 * (for whichever socket the send then names). The loader attaches these
 * only then: a syscall tracepoint puts every syscall of every process on
 * the kernel's slower traced path. */
/* ...and the socket a TLS library write is about to send on is found from
 * the syscall's fd (its first argument in all of them), for the handoff
 * zs_send_begin makes from 6.16. The socket's cookie was given out when the
 * handshake's bytes were captured. */
static __always_inline void zs_tls_send_enter(__u64 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct zs_tls_call *tc;
	struct file **fds, *f = NULL;
	struct fdtable *fdt;
	struct socket *so;
	struct sock *sk;

	if (!make_contexts || !tls_hooks)
		return;
	tc = bpf_task_storage_get(&tls_calls, task, 0, 0);
	if (!tc || !tc->active || tc->handed || tc->dir != ZS_DIR_EGRESS)
		return;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd & 0xffffff]) || !f ||
	    (BPF_CORE_READ(f, f_inode, i_mode) & 0170000) != 0140000 /* S_IFSOCK */)
		return;
	so = BPF_CORE_READ(f, private_data);
	sk = so ? BPF_CORE_READ(so, sk) : NULL;
	if (sk)
		zs_tls_send_begin(sk, BPF_CORE_READ(sk, __sk_common.skc_cookie.counter),
				  bpf_get_current_pid_tgid());
}

#define ZS_SEND_ENTRY(prog, syscall)                    \
	SEC("tracepoint/syscalls/sys_enter_" #syscall)  \
	int prog(struct trace_event_raw_sys_enter *ctx) \
	{                                               \
		zs_send_mark(ZS_SEND_ANY, 0);           \
		zs_tls_send_enter((__u64)ctx->args[0]); \
		return 0;                               \
	}

ZS_SEND_ENTRY(zs_enter_write, write)
ZS_SEND_ENTRY(zs_enter_writev, writev)
ZS_SEND_ENTRY(zs_enter_sendto, sendto)
ZS_SEND_ENTRY(zs_enter_sendmsg, sendmsg)
ZS_SEND_ENTRY(zs_enter_sendfile, sendfile64)

/*
 * A send on a TCP socket moved ret bytes, which are still in the caller's
 * buffer: found and reported as reads are (zs_sock_recv), stamped with the
 * time the send began, with the traceparent the injector (sk_msg, which ran
 * inside this send) inserted. Writes to files and pipes run nothing.
 */
static __always_inline int zs_send_done(struct sock *sk, int ret, const int preemptible)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct zs_sock_info *si = bpf_sk_storage_get(&sock_info, sk, 0, 0);
	struct zs_send_start *ss;
	struct zs_pending p = {};

	if (zs_opaque_done(si, sk, ZS_DIR_EGRESS))
		return 0;
	ss = bpf_task_storage_get(&send_start, bpf_get_current_task_btf(), 0, 0);
	if (ss) {
		if (ss->sk == (__u64)sk || ss->sk == ZS_SEND_ANY)
			p.ts = ss->ts;
		ss->sk = 0; /* the next send starts anew */
	}
	if (!zs_in_scope(id) || !zs_sock_is_tcp(sk))
		return 0;
	if (make_contexts) {
		if (si && si->inj.state != ZS_CTX_NONE) {
			p.inj = si->inj; /* reported with this send, or not at all */
			si->inj.state = ZS_CTX_NONE;
		}
	}
	if (ret <= 0 || !zs_syscall_io(&p, ZS_DIR_EGRESS))
		return 0;
	p.sk = (__u64)sk;
	p.cookie = bpf_get_socket_cookie(sk);
	/* An enrolled client socket that carries TLS: nothing can be inserted
	 * into its bytes, so it leaves the sockhash (zs_sockops) and its sends
	 * and receives stop paying for the sockmap path. */
	switch (zs_io_done(id, &p, sk, ret, preemptible)) {
	case ZS_IO_TLS:
		if (si && !si->tls)
			si->tls = 1;
		break;
	case ZS_IO_OPAQUE:
		zs_mark_opaque(si, sk);
		break;
	}
	return 0;
}

/*
 * A read on a TCP socket has copied ret bytes into the caller's buffer: the
 * data is there now, and which buffer the registers the thread entered the
 * kernel with say. So reads need no syscall enter or exit program (nor run
 * any for reads of files and pipes). Peeks are read again; truncating and
 * error-queue reads do not move stream bytes.
 */
SEC("tp_btf/sock_send_length")
int BPF_PROG(zs_sock_send, struct sock *sk, int ret, int flags)
{
	return zs_send_done(sk, ret, 0);
}

static __always_inline int zs_recv_done(struct sock *sk, int ret, int flags, const int preemptible)
{
	struct zs_pending p = {};
	struct zs_sock_info *si;
	__u64 id;

	/* first what costs no call: apps poll sockets with reads that fail
	 * (EAGAIN) many times for each one that moves data */
	if (ret <= 0 || (flags & (ZS_MSG_PEEK | ZS_MSG_TRUNC | ZS_MSG_ERRQUEUE)))
		return 0;
	si = bpf_sk_storage_get(&sock_info, sk, 0, 0);
	if (zs_opaque_done(si, sk, ZS_DIR_INGRESS))
		return 0;
	id = bpf_get_current_pid_tgid();
	if (!zs_in_scope(id) || !zs_sock_is_tcp(sk) || !zs_syscall_io(&p, ZS_DIR_INGRESS))
		return 0;
	p.sk = (__u64)sk;
	p.cookie = bpf_get_socket_cookie(sk);
	if (zs_io_done(id, &p, sk, ret, preemptible) == ZS_IO_OPAQUE)
		zs_mark_opaque(si, sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(zs_sock_recv, struct sock *sk, int ret, int flags)
{
	return zs_recv_done(sk, ret, flags, 0);
}

/*
 * Before Linux 6.3 (no sock_{send,recv}_length): the same at the return of
 * the socket layer's calls those tracepoints follow, for TCP over IPv4 and
 * IPv6 (fexit, where the kernel has BPF trampolines: Debian 12's 6.1 does),
 * and a send's start at their entry, as tcp_sendmsg_locked gives it from
 * 6.16 (no syscall tracepoint then). Before 6.5 a sendfile's bytes go
 * through sendpage instead. A socket in the injector's sockhash takes the
 * same calls (its TCP-level ones are swapped, not these). Unlike a
 * tracepoint's, a trampoline's program can be preempted (with migration
 * off): its capture checks that the CPU's scratch stayed its own, as the
 * TLS programs' do. The fentry twins time the sends on 6.3-6.15 too.
 */
SEC("fexit/inet_sendmsg")
int BPF_PROG(zs_inet_send, struct socket *sock, struct msghdr *msg, size_t size, int ret)
{
	struct sock *sk = sock->sk;

	return sk ? zs_send_done(sk, ret, 1) : 0;
}

SEC("fexit/inet6_sendmsg")
int BPF_PROG(zs_inet6_send, struct socket *sock, struct msghdr *msg, size_t size, int ret)
{
	struct sock *sk = sock->sk;

	return sk ? zs_send_done(sk, ret, 1) : 0;
}

SEC("fexit/inet_sendpage")
int BPF_PROG(zs_inet_sendpage, struct socket *sock, struct page *page, int offset, size_t size,
	     int flags, long ret)
{
	struct sock *sk = sock->sk;

	return sk ? zs_send_done(sk, (int)ret, 1) : 0;
}

SEC("fexit/inet_recvmsg")
int BPF_PROG(zs_inet_recv, struct socket *sock, struct msghdr *msg, size_t size, int flags, int ret)
{
	struct sock *sk = sock->sk;

	return sk ? zs_recv_done(sk, ret, flags, 1) : 0;
}

SEC("fexit/inet6_recvmsg")
int BPF_PROG(zs_inet6_recv, struct socket *sock, struct msghdr *msg, size_t size, int flags,
	     int ret)
{
	struct sock *sk = sock->sk;

	return sk ? zs_recv_done(sk, ret, flags, 1) : 0;
}

SEC("fentry/inet_sendmsg")
int BPF_PROG(zs_inet_send_begin, struct socket *sock, struct msghdr *msg, size_t size)
{
	struct sock *sk = sock->sk;

	return sk ? zs_send_starts(sk) : 0;
}

SEC("fentry/inet6_sendmsg")
int BPF_PROG(zs_inet6_send_begin, struct socket *sock, struct msghdr *msg, size_t size)
{
	struct sock *sk = sock->sk;

	return sk ? zs_send_starts(sk) : 0;
}

/* ---- TCP state: role at birth, end at close ---- */

/* A socket starts or stops listening: the agent names the peers of CLIENT
 * spans by the process listening on their address, traced or not. */
static __always_inline void zs_emit_listen(const struct sock *sk, int up)
{
	struct zs_conn_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	__u64 id = bpf_get_current_pid_tgid();

	if (!ev) {
		zs_drop(ZS_DROP_RINGBUF_FULL);
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	zs_hdr_fill(&ev->hdr, up ? ZS_EV_LISTEN : ZS_EV_UNLISTEN, sizeof(*ev), id, 0);
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	zs_conn_fill_tuple(ev, sk);
	bpf_ringbuf_submit(ev, zs_rb_flags(sizeof(*ev)));
}

/* connect() runs in the app's process: the one chance to apply --pid/--exe
 * to the injector's enrolment of the connection (sockops, at ESTABLISHED,
 * runs in softirq, any process; and its connect callback may not ask for the
 * process before Linux 6.10, which refused the injector). SYN_SENT is set
 * just before that callback. */
static __always_inline void zs_connect_scope(const struct sock *sk, int in, __u64 id)
{
	struct zs_sock_info *si = bpf_sk_storage_get(&sock_info, (struct sock *)sk, 0,
						     in ? BPF_SK_STORAGE_GET_F_CREATE : 0);

	if (!si)
		return;
	si->in_scope = in;
	/* a Go program dials from a goroutine of its own: its call takes the
	 * context its writer is handed (zs_go_write) */
	if (in && !zs_go_proc(id >> 32))
		zs_conn_ctx_keep(si, id);
	else
		si->conn_ctx.state = ZS_CTX_NONE;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(zs_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct zs_conn_state *st;
	struct zs_close_event *ev;
	__u64 cookie, id;

	if (sk->sk_protocol != ZS_IPPROTO_TCP)
		return 0;
	/* An accepted socket is a server at SYN_RECV -> ESTABLISHED, not when
	 * it enters SYN_RECV: up to Linux 6.12 at least (not 6.18) that comes
	 * before the clone takes its cookie from the request
	 * (inet_csk_clone_lock), so the role went under a cookie nobody used
	 * again and every server socket reached the agent with none (seen on
	 * 6.1, 6.8 and 6.12). */
	if (newstate == ZS_TCP_SYN_SENT ||
	    (oldstate == ZS_TCP_SYN_RECV && newstate == ZS_TCP_ESTABLISHED)) {
		id = bpf_get_current_pid_tgid();
		if (newstate == ZS_TCP_SYN_SENT) {
			int in = zs_in_scope(id);

			if (make_contexts)
				zs_connect_scope(sk, in, id);
			if (!in)
				return 0;
		}
		cookie = bpf_get_socket_cookie((void *)sk);
		zs_conn_new(cookie, sk,
			    newstate == ZS_TCP_SYN_SENT ? ZS_ROLE_CLIENT : ZS_ROLE_SERVER,
			    newstate == ZS_TCP_SYN_SENT ? id >> 32 : 0);
		return 0;
	}
	if (newstate == ZS_TCP_LISTEN || (oldstate == ZS_TCP_LISTEN && newstate == ZS_TCP_CLOSE)) {
		zs_emit_listen(sk, newstate == ZS_TCP_LISTEN);
		return 0;
	}
	if (newstate != ZS_TCP_CLOSE)
		return 0;
	cookie = bpf_get_socket_cookie((void *)sk);
	st = bpf_map_lookup_elem(&conns, &cookie);
	if (!st)
		return 0;
	if (st->announced) {
		ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
		if (ev) {
			zs_hdr_fill(&ev->hdr, ZS_EV_CLOSE, sizeof(*ev), bpf_get_current_pid_tgid(),
				    cookie);
			ev->bytes[0] = st->pos[0];
			ev->bytes[1] = st->pos[1];
			ev->old_state = oldstate;
			ev->_pad = 0;
			bpf_ringbuf_submit(ev, zs_rb_flags(sizeof(*ev)));
		} else {
			zs_drop(ZS_DROP_RINGBUF_FULL);
		}
	}
	if (st->tls) {
		struct zs_ssl_key key = { .ssl = st->ssl, .tgid = st->tgid };
		struct zs_sock_ref *ref = bpf_map_lookup_elem(&ssl_conns, &key);

		if (ref && ref->cookie == cookie)
			bpf_map_delete_elem(&ssl_conns, &key);
	}
	bpf_map_delete_elem(&conns, &cookie);
	return 0;
}

/* ---- TLS libraries: plaintext at the library boundary ---- */

static __always_inline int zs_tls_enter(const void *ssl, const void *buf, const void *nbytes,
					__u64 len, __u8 dir, __u8 ret)
{
	struct zs_tls_call *c;

	if (!zs_in_scope(bpf_get_current_pid_tgid()))
		return 0;
	c = bpf_task_storage_get(&tls_calls, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c) {
		zs_drop(ZS_DROP_TLS_CALLS_FULL);
		return 0;
	}
	c->ssl = (__u64)ssl;
	c->buf = (__u64)buf;
	c->nbytes = (__u64)nbytes;
	c->len = len;
	c->handed = 0;
	c->cookie = 0;
	c->sk = 0;
	c->ts = bpf_ktime_get_ns();
	c->dir = dir;
	c->ret = ret;
	c->active = 1;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(zs_ssl_write, void *ssl, const void *buf, int num)
{
	return zs_tls_enter(ssl, buf, NULL, (__u64)(__u32)num, ZS_DIR_EGRESS, ZS_TLS_RET_INT);
}

SEC("uprobe")
int BPF_KPROBE(zs_ssl_read, void *ssl, void *buf, int num)
{
	return zs_tls_enter(ssl, buf, NULL, (__u64)(__u32)num, ZS_DIR_INGRESS, ZS_TLS_RET_INT);
}

SEC("uprobe")
int BPF_KPROBE(zs_ssl_write_ex, void *ssl, const void *buf, __u64 num, __u64 *written)
{
	return zs_tls_enter(ssl, buf, written, num, ZS_DIR_EGRESS, ZS_TLS_RET_EX);
}

SEC("uprobe")
int BPF_KPROBE(zs_ssl_read_ex, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return zs_tls_enter(ssl, buf, readbytes, num, ZS_DIR_INGRESS, ZS_TLS_RET_EX);
}

SEC("uprobe")
int BPF_KPROBE(zs_gnutls_send, void *session, const void *data, __u64 size)
{
	return zs_tls_enter(session, data, NULL, size, ZS_DIR_EGRESS, ZS_TLS_RET_LONG);
}

SEC("uprobe")
int BPF_KPROBE(zs_gnutls_recv, void *session, void *data, __u64 size)
{
	return zs_tls_enter(session, data, NULL, size, ZS_DIR_INGRESS, ZS_TLS_RET_LONG);
}

/* gnutls_record_recv probed at its tail jump to the internal receive (a jmp
 * is emulated; its first instruction is single-stepped): the registers are
 * that function's arguments (session, type 0x17, data, size) and the stack
 * holds the caller's return address, for the return probe there too. */
SEC("uprobe")
int BPF_KPROBE(zs_gnutls_recv_tail, void *session, __u64 type, void *data, __u64 size)
{
	return zs_tls_enter(session, data, NULL, size, ZS_DIR_INGRESS, ZS_TLS_RET_LONG);
}

/* Is ref a live connection that session ssl may use? (strict: it is ssl's) */
static __always_inline int zs_tls_ref_ok(const struct zs_sock_ref *ref, __u64 ssl, int strict)
{
	struct zs_conn_state *st;

	if (!ref)
		return 0;
	st = bpf_map_lookup_elem(&conns, &ref->cookie);
	if (!st)
		return 0;
	if (st->tls)
		return st->ssl == ssl;
	return !strict;
}

SEC("uretprobe")
int BPF_KRETPROBE(zs_tls_exit)
{
	__u64 id = bpf_get_current_pid_tgid(), rc = PT_REGS_RC(ctx), nbytes = 0, len;
	struct zs_tls_call *tcp =
		bpf_task_storage_get(&tls_calls, bpf_get_current_task_btf(), 0, 0);
	struct zs_sock_ref ref = {}, *cached, *thread;
	struct zs_pending p = {};
	struct zs_ssl_key key = {};
	struct zs_conn_state *st;
	__u8 m;

	if (!tcp || !tcp->active)
		return 0;
	tcp->active = 0; /* its fields stay: the thread's own, rewritten by its next call */
	if (tcp->ret == ZS_TLS_RET_EX && (int)rc > 0 &&
	    bpf_probe_read_user(&nbytes, sizeof(nbytes), (void *)tcp->nbytes)) {
		zs_drop(ZS_DROP_READ_FAILED);
		return 0;
	}
	len = zs_tls_ret_len(tcp->ret, rc, nbytes);
	/* Nothing moved and no socket used (a read that wants more: nginx's
	 * second SSL_read of each request): the socket would come from the
	 * cache, whose entry already names it, or from nowhere (the thread's
	 * last read is no evidence for an empty call), and with no bytes every
	 * path below ends without a change. Five map lookups fewer. */
	if (!len && !tcp->cookie)
		return 0;
	key.ssl = tcp->ssl;
	key.tgid = id >> 32;
	cached = bpf_map_lookup_elem(&ssl_conns, &key);
	/* A socket the call used wins (zs_tls_match): the others are looked at
	 * only without one. */
	if (tcp->cookie) {
		thread = NULL;
		m = zs_tls_match(tcp->cookie, 0, 0, len);
	} else {
		thread = bpf_map_lookup_elem(&thread_rx, &id);
		m = zs_tls_match(0, zs_tls_ref_ok(cached, tcp->ssl, 1),
				 zs_tls_ref_ok(thread, tcp->ssl, 0), len);
	}
	if (m == ZS_TLS_MATCH_SYSCALL) {
		ref.cookie = tcp->cookie;
		ref.sk = tcp->sk;
	} else if (m == ZS_TLS_MATCH_CACHE && cached) {
		ref = *cached;
	} else if (m == ZS_TLS_MATCH_THREAD && thread) {
		ref = *thread;
	} else {
		if (len)
			zs_drop(ZS_DROP_TLS_UNMATCHED);
		return 0;
	}
	st = bpf_map_lookup_elem(&conns, &ref.cookie);
	if (!st || st->ignored)
		return 0;
	zs_conn_mark_tls(st, tcp->ssl, id >> 32);
	/* the session's socket, stored when it is new or changed (an LRU
	 * update per call costs more than the rest of a call without data) */
	if (m != ZS_TLS_MATCH_CACHE &&
	    (!cached || cached->cookie != ref.cookie || cached->sk != ref.sk))
		bpf_map_update_elem(&ssl_conns, &key, &ref, BPF_ANY);
	if (!len)
		return 0;
	p.buf = tcp->buf;
	p.sk = ref.sk;
	p.cookie = ref.cookie;
	p.dir = tcp->dir & 1;
	p.ts = tcp->ts;
	/* The byte count and op go through the call's storage and back: read
	 * from memory they are any value to the verifier, which then checks the
	 * capture once, not once for each way this call got them (a known op
	 * for each direction, a range for each kind of return): Linux 6.1's
	 * verifier gave up on this program after a million instructions. */
	tcp->len = len; /* the call's argument is no longer needed */
	tcp->op = p.dir == ZS_DIR_EGRESS ? ZS_OP_TLS_WRITE : ZS_OP_TLS_READ;
	asm volatile("" ::: "memory");
	p.op = tcp->op;
	zs_capture(id, &p, NULL, 0, tcp->len, st, 1);
	return 0;
}

/* A thread ends: a TLS call or syscall it was inside will never return. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(zs_thread_exit, struct task_struct *task)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!tls_hooks)
		return 0;
	bpf_map_delete_elem(&thread_rx, &id);
	return 0;
}

/* Tells the agent to look for TLS libraries in the current process. */
static __always_inline int zs_emit_proc(__u16 type, __u64 rb_flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct zs_exec_event *ev;

	if (!tls_hooks || !zs_in_scope(id))
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		zs_drop(ZS_DROP_RINGBUF_FULL);
		return 0;
	}
	zs_hdr_fill(&ev->hdr, type, sizeof(*ev), id, 0);
	bpf_ringbuf_submit(ev, rb_flags ? rb_flags : zs_rb_flags(sizeof(*ev)));
	return 0;
}

/* A new program: the agent looks for TLS libraries in it, woken at once so
 * that it attaches before the program serves (a statically linked TLS
 * library, node's, is only probed once the process is scanned; the agent's
 * drain otherwise comes up to 100 ms later). */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(zs_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return zs_emit_proc(ZS_EV_EXEC, BPF_RB_FORCE_WAKEUP);
}

/* Process age under which the agent's own looks after exec (150 ms, 2 s:
 * user/tls.c) cover what dlopen brings in. */
#define ZS_DLOPEN_LATE_NS 1500000000ULL

/* The dynamic loader's debugger hook (glibc's and musl's _dl_debug_state),
 * called before and after each dlopen/dlclose maps or unmaps libraries: a
 * TLS library may come in however long after exec. Only for a process past
 * its start-up (hundreds of dlopens there), and the agent is woken at once:
 * the library may be used right after it is loaded. */
SEC("uprobe")
int BPF_KPROBE(zs_dlopen)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 started = BPF_CORE_READ(task, group_leader, start_time);

	if (bpf_ktime_get_ns() - started < ZS_DLOPEN_LATE_NS)
		return 0;
	return zs_emit_proc(ZS_EV_DLOPEN, BPF_RB_FORCE_WAKEUP);
}

/* ---- Go net/http: a handler's call, handed to its connection's writer ---- */

/* net/http.(*persistConn).roundTrip(pc, req *transportRequest), in the
 * handler's goroutine (%r14), probed past its stack check (user/probe_site.c):
 * the request (req's first word, its embedded *Request, in %rbx) is the
 * handler's until a writer writes it. */
SEC("uprobe")
int BPF_KPROBE(zs_go_round_trip)
{
	__u64 id = bpf_get_current_pid_tgid(), *start;
	struct zs_go_key k = { .tgid = id >> 32 };
	struct zs_go_owner o = { .flow = zs_go_flow_of(ZS_GO_G(ctx)), .ts = bpf_ktime_get_ns() };
	__u64 now_start = zs_task_start();

	if (!ZS_GO_G(ctx) || bpf_probe_read_user(&k.ptr, sizeof(k.ptr), (void *)ZS_GO_ARG2(ctx)) ||
	    !k.ptr)
		return 0;
	bpf_map_update_elem(&go_reqs, &k, &o, BPF_ANY);
	start = bpf_map_lookup_elem(&go_procs, &k.tgid);
	if (!start || *start != now_start) {
		bpf_map_update_elem(&go_procs, &k.tgid, &now_start, BPF_ANY);
		__sync_fetch_and_add(&go_gen, 1);
	}
	return 0;
}

/* net/http.(*Request).write(r, ...), in the connection's writer goroutine
 * (writeLoop), which sends r right after: the sends of this goroutine are
 * the handler's call (zs_go_flow), and with injection its thread serves the
 * handler's request now (the injector reads the thread's context). A
 * request no roundTrip handed over leaves the writer without an owner. */
SEC("uprobe")
int BPF_KPROBE(zs_go_write)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	struct zs_go_key k = { .tgid = id >> 32, .ptr = ZS_GO_ARG1(ctx) };
	struct zs_go_owner *o = bpf_map_lookup_elem(&go_reqs, &k), *e, w = {};
	struct zs_kernel_ctx c;

	if (o) {
		/* taken: the map stays small (a full LRU map evicts on every
		 * insert, under its lock: roundTrip's probe took 2.2 us a run) */
		w.flow = zs_go_fresh(o->ts, now) ? o->flow : 0;
		bpf_map_delete_elem(&go_reqs, &k);
	}
	k.ptr = ZS_GO_G(ctx);
	if (!k.ptr)
		return 0;
	e = bpf_map_lookup_elem(&go_writers, &k);
	if (!w.flow) {
		/* unless it is the same call again, its stack grown (the probe
		 * sits on the stack check's jump): it took its request just now */
		if (e && (o || now - e->ts >= ZS_GO_REENTRY_NS))
			bpf_map_delete_elem(&go_writers, &k);
		return 0;
	}
	w.ts = now;
	/* in place: only this goroutine writes and reads its entry */
	if (e)
		*e = w;
	else
		bpf_map_update_elem(&go_writers, &k, &w, BPF_ANY);
	if (!make_contexts)
		return 0;
	if (zs_ctx_get(zs_go_ctx_key(k.tgid, w.flow), &c)) {
		/* a goroutine that read no request (one the handler started:
		 * `go f()`, a fan-out): the injector takes its process's latest
		 * request rather than whatever the thread served before */
		bpf_map_delete_elem(&thread_ctx, &id);
		return 0;
	}
	/* the thread serves the handler's request now, its tracestate too */
	if (c.has_ts) {
		__u64 go_key = zs_go_ctx_key(k.tgid, w.flow);
		struct zs_tstate *ts = bpf_map_lookup_elem(&thread_ts, &go_key);

		c.has_ts = ts && bpf_map_update_elem(&thread_ts, &id, ts, BPF_ANY) == 0;
	}
	zs_ctx_put(id, &c);
	return 0;
}
