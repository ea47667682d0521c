/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps shared by the kernel objects: sock.bpf.c creates them, the loader
 * hands them to inject.bpf.c by fd (bpf_map__reuse_fd). Defined once here
 * so both objects agree on their layout.
 */
#ifndef ZS_MAPS_BPF_H
#define ZS_MAPS_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "zerospan_abi.h"
#include "lib/trace_ctx.bpf.h"

/* All events to userspace. Sized by the loader (--ringbuf-mb). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

/*
 * Connection state, key: socket cookie. Written by sock.bpf.c (set_state,
 * data exits), deleted at TCP_CLOSE; read by the injector (unanswered
 * requests). LRU so connections we never see close cannot fill it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct zs_conn_state);
} conns SEC(".maps");

/* Has the connection a request without its response's start yet? (The
 * counters wrap together.) Nothing is added to a request sent then:
 * pipelining. */
static __always_inline int zs_conn_unanswered(const struct zs_conn_state *st)
{
	return (__u8)(st->req_starts - st->resp_starts) != 0;
}

/*
 * The context of the request each thread serves now, key: pid_tgid; and of
 * the latest request each process read, key: tgid << 32 | 0xffffffff (pool
 * workers, children). Written when a server reads a request, read by the
 * injector (inject.bpf.c) when the thread or process sends one. LRU: a
 * thread that stops serving is forgotten in time.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct zs_kernel_ctx);
} thread_ctx SEC(".maps");

/* The tracestate of the request in thread_ctx, same keys, when it came with
 * a valid traceparent and one tracestate header of at most ZS_TS_MAX bytes
 * (the context's has_ts says so; an entry it does not vouch for is stale and
 * never read, and ages out). Written with thread_ctx, read by the injector. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct zs_tstate);
} thread_ts SEC(".maps");

/* Per client socket: its cookie (sk_msg cannot ask for it; inject.bpf.c's
 * sockops sets it), whether the process that connected it is in scope
 * (sock.bpf.c, at SYN_SENT, in that process),
 * the context the injector just inserted into a send, which the send's
 * sock_send_length program (sock.bpf.c) moves into its DATA record, and
 * whether it carries TLS (its first message a TLS record, or a TLS library
 * call wrote it: sock.bpf.c) or another protocol than HTTP/1.x (its first
 * message): the sockops program then takes it out of the sockhash. Freed
 * with the socket. */
struct zs_sock_info {
	__u64 cookie;
	__u8 in_scope;
	__u8 tls;
	__u8 not_http;
	__u8 judged; /* the injector has seen the first message */
	__u8 opaque; /* first bytes neither HTTP/1.x nor TLS: socket calls skip capture */
	__u8 _pad[3];
	struct zs_kernel_ctx inj; /* state NONE: nothing waiting */
	/* what the thread that called connect() served then (state NONE:
	 * nothing, or used), where it was found, and when (zs_conn_call_ctx) */
	struct zs_kernel_ctx conn_ctx;
	__u64 conn_key;
	__u64 conn_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct zs_sock_info);
} sock_info SEC(".maps");

/* State of the id generator (zs_id_next), per CPU; seeded from the kernel's
 * prandom at first use. Each object that includes this has its own. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} id_rng SEC(".maps");

static __always_inline __u64 zs_prandom64(void)
{
	return (__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32();
}

/* Fills n bytes (a multiple of 8) with random bytes for thread id: trace and
 * span ids. */
static __always_inline void zs_random_id(__u8 *dst, __u32 n, __u64 id)
{
	__u32 zero = 0, k;
	__u64 *st = bpf_map_lookup_elem(&id_rng, &zero), r;

	if (st && !*st)
		*st = zs_prandom64();
	for (k = 0; k < n; k += 8) {
		r = st ? zs_id_next(st, id) : zs_prandom64();
		__builtin_memcpy(dst + k, &r, 8);
	}
}

/*
 * thread_ctx entries are written in place (an LRU update takes a new element
 * each time: ~290 ns a served request for the process entry alone). A
 * process entry is written by any of its threads and read by the others, so
 * check, written last, is a hash of the rest: a reader that copied a mix of
 * two writes, or one half done, sees it differ and takes the entry for
 * absent (zs_ctx_check, zs_ctx_store: trace_ctx.bpf.h). No atomics (the BPF
 * target here has none with results), and no store or load order assumed.
 * zs_ctx_put writes c at key (in place when there, else a new entry).
 */
static const struct zs_kernel_ctx zs_ctx_blank;

static __always_inline void zs_ctx_put(__u64 key, struct zs_kernel_ctx *c)
{
	struct zs_kernel_ctx *e = bpf_map_lookup_elem(&thread_ctx, &key);

	/* A new entry starts blank (its check does not match: absent to a
	 * reader) and is written in place too: c may be in the ringbuf, which
	 * map updates take from Linux 6.2 only. */
	if (!e && bpf_map_update_elem(&thread_ctx, &key, &zs_ctx_blank, BPF_NOEXIST) == 0)
		e = bpf_map_lookup_elem(&thread_ctx, &key);
	if (e)
		zs_ctx_store(e, c);
}

/* A consistent copy of the thread_ctx entry at key into out, or -1 (out
 * untouched). */
static __always_inline int zs_ctx_get(__u64 key, struct zs_kernel_ctx *out)
{
	struct zs_kernel_ctx *e = bpf_map_lookup_elem(&thread_ctx, &key), t;

	if (!e)
		return -1;
	t = *e;
	if (t.check != zs_ctx_check(&t))
		return -1;
	*out = t;
	return 0;
}

/* The context a call sent by this thread continues; *key_out: where it was
 * found (thread, process or parent process key). An entry caught while
 * another thread writes it counts as absent. */
static __always_inline int zs_caller_ctx(__u64 id, struct zs_kernel_ctx *out, __u64 *key_out)
{
	__u64 key = id;
	int err = zs_ctx_get(key, out);

	if (err) {
		key = (id & 0xffffffff00000000ULL) | 0xffffffffULL;
		err = zs_ctx_get(key, out);
	}
	if (err) {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();

		key = (__u64)BPF_CORE_READ(t, real_parent, tgid) << 32 | 0xffffffffULL;
		err = zs_ctx_get(key, out);
	}
	if (err)
		return -1;
	*key_out = key;
	return 0;
}

/*
 * The context of a call this thread sends: the one it, its process or its
 * parent serves (state INCOMING), else a new trace sampled by threshold
 * (ROOT); a new span id for the CLIENT span. Returns -1, c untouched past
 * the lookup, when the request served came with B3 only (FOREIGN: left to
 * userspace). *key_out: where the served context was found.
 */
static __always_inline int zs_call_ctx(__u64 id, __u64 threshold, struct zs_kernel_ctx *c,
				       __u64 *key_out)
{
	if (zs_caller_ctx(id, c, key_out) == 0 && c->state == ZS_CTX_FOREIGN)
		return -1;
	if (c->state == ZS_CTX_NONE) {
		zs_random_id(c->trace_id, 16, id);
		c->flags = zs_ratio_sampled(c->trace_id, threshold);
		c->state = ZS_CTX_ROOT;
	} else {
		c->state = ZS_CTX_INCOMING;
	}
	zs_random_id(c->span_id, 8, id);
	return 0;
}

/* How long after connect() its connection's first request takes the
 * context its connecting thread served then (zs_conn_call_ctx). */
#define ZS_CONNECT_CTX_NS (1000ULL * 1000 * 1000)

/* Do a and b name the same trace and span? */
static __always_inline int zs_ctx_same(const struct zs_kernel_ctx *a, const struct zs_kernel_ctx *b)
{
	__u64 x[3], y[3];

	__builtin_memcpy(x, a->trace_id, 16);
	__builtin_memcpy(x + 2, a->span_id, 8);
	__builtin_memcpy(y, b->trace_id, 16);
	__builtin_memcpy(y + 2, b->span_id, 8);
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2];
}

/* At connect() (SYN_SENT, in the connecting thread): the context that
 * thread (else its process, its parent) serves, kept on the socket. */
static __always_inline void zs_conn_ctx_keep(struct zs_sock_info *si, __u64 id)
{
	struct zs_kernel_ctx c;
	__u64 key = 0;

	if (zs_caller_ctx(id, &c, &key) || c.state == ZS_CTX_NONE) {
		si->conn_ctx.state = ZS_CTX_NONE;
		return;
	}
	si->conn_ctx = c;
	si->conn_key = key;
	si->conn_ns = bpf_ktime_get_ns();
}

/*
 * The context of a call sent on client connection si: for its first
 * request, sent within ZS_CONNECT_CTX_NS of connect(), the one its
 * connecting thread served then (zs_conn_ctx_keep); else zs_call_ctx's, the
 * sending thread's now. An event loop (node, nginx) or a Go program connects
 * while it handles the request that needs the call, but sends the request
 * from a later turn of its loop or another goroutine's thread, which by
 * then may have read another request (a Go front with its default pool of 2
 * idle connections a host, 8 clients at once: 20-27 % of its calls went under
 * another request, 16-21 % since, docs/BENCHMARKS.md). A tracestate is passed
 * on (c->has_ts) only while *key_out still holds that context. Returns as
 * zs_call_ctx.
 */
static __always_inline int zs_conn_call_ctx(struct zs_sock_info *si, __u64 id, __u64 threshold,
					    struct zs_kernel_ctx *c, __u64 *key_out)
{
	struct zs_kernel_ctx now;
	__u8 state = si->conn_ctx.state;

	si->conn_ctx.state = ZS_CTX_NONE; /* once */
	if (state == ZS_CTX_NONE || bpf_ktime_get_ns() - si->conn_ns > ZS_CONNECT_CTX_NS)
		return zs_call_ctx(id, threshold, c, key_out);
	if (state == ZS_CTX_FOREIGN)
		return -1;
	*c = si->conn_ctx;
	c->state = ZS_CTX_INCOMING;
	*key_out = si->conn_key;
	if (c->has_ts && (zs_ctx_get(si->conn_key, &now) || !zs_ctx_same(&now, c)))
		c->has_ts = 0;
	zs_random_id(c->span_id, 8, id);
	return 0;
}

/* Fills the common header of a ringbuf record about connection cookie (0:
 * none), made by thread id at ts_ns. */
static __always_inline void zs_hdr_fill_at(struct zs_event_hdr *h, __u16 type, __u16 size, __u64 id,
					   __u64 cookie, __u64 ts_ns)
{
	h->type = type;
	h->size = size;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->flow = 0;
	h->ts_ns = ts_ns;
	h->cookie = cookie;
}

/* The same, made now. */
static __always_inline void zs_hdr_fill(struct zs_event_hdr *h, __u16 type, __u16 size, __u64 id,
					__u64 cookie)
{
	zs_hdr_fill_at(h, type, size, id, cookie, bpf_ktime_get_ns());
}

/* Adds one to counter key of a per-CPU array of counters (drops, results). */
static __always_inline void zs_counter_inc(void *map, __u32 key)
{
	__u64 *c = bpf_map_lookup_elem(map, &key);

	/* atomic: uprobe programs can be preempted between a load and a store */
	if (c)
		__sync_fetch_and_add(c, 1);
}

#endif
