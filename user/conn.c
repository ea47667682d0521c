// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "conn.h"

#include "clock.h"
#include "context.h"
#include "http1.h"
#include "link.h"
#include "listeners.h"
#include "log.h"
#include "metrics.h"
#include "procinfo.h"
#include "proxy_proto.h"
#include "span.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Injected contexts waiting for their request's bytes at most. */
#define ZS_INJECT_QUEUE 4
/* Requests outstanding on one connection (pipelining depth) at most. */
#define ZS_PIPELINE_MAX 16

struct zs_conn;

struct zs_side {
	struct zs_conn *c;
	bool is_req;
};

struct zs_conn {
	uint64_t cookie;
	uint8_t role;
	bool tunnel;
	bool tls; /* plaintext from a TLS library: https */
	bool has_tuple;
	bool resp_informational;
	uint16_t family, lport, rport;
	char laddr[48], raddr[48]; /* as text: formatted once, used by every span */
	char proxied[48];	   /* the client a PROXY protocol header named, or "" */
	uint8_t raddr_bin[16];	   /* IPv4 mapped */
	uint32_t netns;
	uint32_t pid, ppid;
	uint32_t cur_pid, cur_tid; /* of the event being handled */
	uint32_t connect_tid;	   /* CLIENT: the thread that called connect() (0: unknown) */
	uint64_t connect_ns;	   /* and when (kernel CLOCK_MONOTONIC) */
	uint32_t calls;		   /* CLIENT: requests sent so far */
	char comm[16];
	struct zs_resource *res;
	struct zs_http_stream req, resp;
	struct zs_side side_req, side_resp;
	uint64_t next_pos[2];
	bool pos_known[2];
	uint64_t msg_begin_ts[2];      /* [0] request stream, [1] response stream */
	uint64_t req_begin_pos;	       /* byte position of the request being read */
	struct zs_kernel_ctx req_kctx; /* the kernel's context for it (SERVER) */
	uint32_t req_flow;	       /* its goroutine, in a Go program (zs_event_hdr.flow) */
	struct {
		uint64_t pos; /* egress position of the request it went into */
		struct zs_kernel_ctx ctx;
	} inj[ZS_INJECT_QUEUE]; /* injected contexts, oldest first */
	uint32_t n_inj;
	uint64_t cur_ts;
	struct zs_span *pending[ZS_PIPELINE_MAX];
	uint32_t p_head, p_count;
	uint64_t last_ns;
	struct zs_conn *hnext;
	struct zs_conn *tnext; /* connections by 4-tuple (same-node links) */
	struct zs_conn *peer;  /* its other end on this host, once found (same netns; mutual) */
	bool in_tuples;
	uint32_t thash, peer_hash;	     /* tuple_hash() of its tuple and of the reverse */
	struct zs_conn *lru_prev, *lru_next; /* lru_next: older */
	/* SERVER: a finished span that waits for its CLIENT span on this host
	 * (park()); the connection is kept, closed, until it goes */
	struct zs_span *parked;
	uint64_t parked_ns;
	bool closed;
	struct zs_conn *park_prev, *park_next; /* park_next: parked later */
};

static struct zs_conn_opts opts;
/* Both indexes have table_mask + 1 buckets: as many as connections tracked
 * (at least ZS_TABLE_MIN), up to max_conns. A table sized for max_conns
 * from the start (512 KiB each at the default) made every new connection's
 * bucket loads cache misses: ~9 % of the agent's CPU with a connection per
 * request. */
#define ZS_TABLE_MIN 1024
static struct zs_conn **table;	/* by hash_cookie() */
static struct zs_conn **tuples; /* client and server connections by tuple_hash() */
static uint32_t table_mask, table_max, n_conns;
static struct zs_conn *lru_head, *lru_tail;   /* head: most recent */
static struct zs_conn *park_head, *park_tail; /* connections with a parked span, oldest first */
static uint64_t seen_ts;		      /* the latest kernel time of a record handled */

static enum zs_http_body req_on_headers(void *u, const struct zs_http_msg *m,
					const struct zs_http_header *h, size_t n);
static void req_on_complete(void *u);
static void req_on_lost(void *u, const char *why);
static enum zs_http_body resp_on_headers(void *u, const struct zs_http_msg *m,
					 const struct zs_http_header *h, size_t n);
static void resp_on_complete(void *u);
static void resp_on_lost(void *u, const char *why);

static const struct zs_http_stream_ops req_ops = { req_on_headers, req_on_complete, req_on_lost };
static const struct zs_http_stream_ops resp_ops = { resp_on_headers, resp_on_complete,
						    resp_on_lost };

int zs_conn_table_init(const struct zs_conn_opts *o)
{
	opts = *o;
	table_max = ZS_TABLE_MIN;
	while (table_max < opts.max_conns && table_max < (1u << 24))
		table_max <<= 1;
	table = calloc(ZS_TABLE_MIN, sizeof(*table));
	tuples = calloc(ZS_TABLE_MIN, sizeof(*tuples));
	if (!table || !tuples || zs_link_init(opts.max_conns / 4)) {
		zs_conn_table_fini();
		return -1;
	}
	table_mask = ZS_TABLE_MIN - 1;
	return 0;
}

static uint32_t tuple_hash(const char *laddr, uint16_t lport, const char *raddr, uint16_t rport)
{
	uint64_t h = 1469598103934665603ULL ^ ((uint64_t)lport << 16 | rport);

	for (; *laddr; laddr++)
		h = (h ^ (uint8_t)*laddr) * 1099511628211ULL;
	h = (h ^ '|') * 1099511628211ULL;
	for (; *raddr; raddr++)
		h = (h ^ (uint8_t)*raddr) * 1099511628211ULL;
	return (uint32_t)(h ^ h >> 32);
}

/* Takes c out of the tuple index and unpairs it from its peer. */
static void tuple_unlink(struct zs_conn *c)
{
	struct zs_conn **pp;

	if (c->peer)
		c->peer->peer = NULL;
	c->peer = NULL;
	if (!c->in_tuples)
		return;
	pp = &tuples[c->thash & table_mask];
	while (*pp && *pp != c)
		pp = &(*pp)->tnext;
	if (*pp)
		*pp = c->tnext;
	c->in_tuples = false;
}

/* Pairs a and b as each other's peer; peers are always mutual, so removing
 * either clears both (a pointer to a removed connection cannot remain). */
static void peer_pair(struct zs_conn *a, struct zs_conn *b)
{
	if (a->peer)
		a->peer->peer = NULL;
	if (b->peer)
		b->peer->peer = NULL;
	a->peer = b;
	b->peer = a;
}

/* c, its role known, into the tuple index (its peer looks it up there). */
static void tuple_index(struct zs_conn *c)
{
	if (c->in_tuples || !c->has_tuple ||
	    (c->role != ZS_ROLE_CLIENT && c->role != ZS_ROLE_SERVER))
		return;
	c->tnext = tuples[c->thash & table_mask];
	tuples[c->thash & table_mask] = c;
	c->in_tuples = true;
}

static bool is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strncmp(addr, "::ffff:127.", 11) == 0;
}

/* The connection on this host, in the given role, at the far end of c,
 * preferring one in the same network namespace. */

static struct zs_conn *tuple_peer(struct zs_conn *c, uint8_t role)
{
	struct zs_conn *p, *other_ns = NULL;

	if (!c->has_tuple)
		return NULL;
	/* Found once, kept on both ends until either is removed: every
	 * exchange asks (2-3 times a span), and the walk was a few cache
	 * misses each time. A same-netns match cannot change while both live. */
	if (c->peer)
		return c->peer->role == role ? c->peer : NULL;
	for (p = tuples[c->peer_hash & table_mask]; p; p = p->tnext) {
		if (p->role != role || p->lport != c->rport || p->rport != c->lport ||
		    strcmp(p->laddr, c->raddr) || strcmp(p->raddr, c->laddr))
			continue;
		if (p->netns == c->netns) {
			peer_pair(c, p);
			return p;
		}
		other_ns = p;
	}
	/* A loopback tuple names a connection only inside its own network
	 * namespace: two containers' 127.0.0.1:8080 are not one server. */
	return other_ns && !is_loopback(c->raddr) ? other_ns : NULL;
}

static uint32_t hash_cookie(uint64_t c)
{
	c ^= c >> 33;
	c *= 0xff51afd7ed558ccdULL;
	c ^= c >> 33;
	return (uint32_t)c;
}

static struct zs_conn *lookup(uint64_t cookie)
{
	struct zs_conn *c;

	for (c = table[hash_cookie(cookie) & table_mask]; c; c = c->hnext)
		if (c->cookie == cookie)
			return c;
	return NULL;
}

static void lru_unlink(struct zs_conn *c)
{
	if (c->lru_prev)
		c->lru_prev->lru_next = c->lru_next;
	else
		lru_head = c->lru_next;
	if (c->lru_next)
		c->lru_next->lru_prev = c->lru_prev;
	else
		lru_tail = c->lru_prev;
	c->lru_prev = c->lru_next = NULL;
}

static void lru_touch(struct zs_conn *c, uint64_t now)
{
	c->last_ns = now;
	if (lru_head == c)
		return;
	if (c->lru_prev || c->lru_next || lru_tail == c)
		lru_unlink(c);
	c->lru_next = lru_head;
	if (lru_head)
		lru_head->lru_prev = c;
	lru_head = c;
	if (!lru_tail)
		lru_tail = c;
}

/* Takes the oldest exchange in flight off c. Every pending span leaves
 * through here, so the link tables never point to a span that left. */
static struct zs_span *pop_head(struct zs_conn *c)
{
	struct zs_span *s;

	if (!c->p_count)
		return NULL;
	s = c->pending[c->p_head];
	c->pending[c->p_head] = NULL;
	c->p_head = (c->p_head + 1) % ZS_PIPELINE_MAX;
	c->p_count--;
	if (s->kind == ZS_KIND_SERVER)
		zs_link_server_end(s->pid, s);
	return s;
}

static void drop_pending(struct zs_conn *c)
{
	while (c->p_count) {
		zs_span_free(pop_head(c));
		zs_count(exchanges_dropped);
	}
}

static void release_parked(struct zs_conn *c);

static void conn_remove(struct zs_conn *c)
{
	struct zs_conn **pp;

	if (c->parked)
		release_parked(c);
	pp = &table[hash_cookie(c->cookie) & table_mask];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	lru_unlink(c);
	tuple_unlink(c);
	drop_pending(c);
	zs_http_stream_free(&c->req);
	zs_http_stream_free(&c->resp);
	zs_resource_unref(c->res);
	free(c);
	n_conns--;
	zs_gauge_set(conns_tracked, n_conns);
	zs_gauge_set(header_hold_bytes, zs_http_hold_used);
}

/* Moves every connection (all are on the LRU list) into indexes of size
 * buckets. Keeps the old ones if memory runs short: only slower. */
static void tables_resize(uint32_t size)
{
	struct zs_conn **t = calloc(size, sizeof(*t)), **u = calloc(size, sizeof(*u)), *c;
	uint32_t b;

	if (!t || !u) {
		free(t);
		free(u);
		return;
	}
	for (c = lru_head; c; c = c->lru_next) {
		b = hash_cookie(c->cookie) & (size - 1);
		c->hnext = t[b];
		t[b] = c;
		if (c->in_tuples) {
			b = c->thash & (size - 1);
			c->tnext = u[b];
			u[b] = c;
		}
	}
	free(table);
	free(tuples);
	table = t;
	tuples = u;
	table_mask = size - 1;
}

/* Before one more connection: twice the buckets when they would be fewer
 * than the connections, half when an eighth of them would be used. */
static void tables_fit(void)
{
	uint32_t size = table_mask + 1;

	if (n_conns + 1 > size && size < table_max)
		tables_resize(size * 2);
	else if (size > ZS_TABLE_MIN && n_conns + 1 < size / 8)
		tables_resize(size / 2);
}

static struct zs_conn *conn_create(uint64_t cookie, uint32_t pid, const char *comm, uint64_t now)
{
	struct zs_conn *c;
	uint32_t b;

	if (n_conns >= opts.max_conns && lru_tail) {
		conn_remove(lru_tail);
		zs_count(conns_evicted);
	}
	tables_fit();
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cookie = cookie;
	c->pid = pid;
	zs_strlcpy(c->comm, comm, sizeof(c->comm));
	c->side_req = (struct zs_side){ c, true };
	c->side_resp = (struct zs_side){ c, false };
	zs_http_stream_init(&c->req, true, opts.capture_size, &req_ops, &c->side_req);
	zs_http_stream_init(&c->resp, false, opts.capture_size, &resp_ops, &c->side_resp);
	c->res = zs_procinfo_get(pid, c->comm);
	b = hash_cookie(cookie) & table_mask;
	c->hnext = table[b];
	table[b] = c;
	n_conns++;
	zs_gauge_set(conns_tracked, n_conns);
	lru_touch(c, now);
	return c;
}

static void addr_str(const uint8_t a[16], char *out, size_t cap)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char *p = out;

	if (memcmp(a, v4mapped, 12) != 0) {
		inet_ntop(AF_INET6, a, out, (socklen_t)cap);
		return;
	}
	if (cap < 16) {
		inet_ntop(AF_INET, a + 12, out, (socklen_t)cap);
		return;
	}
	/* dotted quad by hand: glibc's inet_ntop formats it with sprintf, a
	 * cost per connection when every request opens one */
	for (int i = 12; i < 16; i++) {
		unsigned int v = a[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 15 ? '.' : 0;
	}
}

void zs_conn_on_open(const struct zs_conn_event *ev)
{
	struct zs_conn *c = lookup(ev->hdr.cookie);
	char comm[17];

	memcpy(comm, ev->comm, 16);
	comm[16] = 0;
	/* The cookie is unique per boot: an entry with a tuple means we missed
	 * the close; one without was made by a record that came first. */
	if (c && c->has_tuple) {
		conn_remove(c);
		c = NULL;
	}
	if (!c) {
		c = conn_create(ev->hdr.cookie, ev->hdr.pid, comm, ev->hdr.ts_ns);
	} else if (!c->res) {
		/* made by a record that came first, unnamed until now */
		zs_strlcpy(c->comm, comm, sizeof(c->comm));
		c->res = zs_procinfo_get(ev->hdr.pid, c->comm);
	}
	if (!c)
		return;
	zs_count(conns_opened);
	c->role = ev->role;
	c->tls = ev->tls != 0;
	memcpy(c->raddr_bin, ev->raddr, 16);
	c->has_tuple = true;
	c->family = ev->family;
	c->lport = ev->lport;
	c->rport = ev->rport;
	addr_str(ev->laddr, c->laddr, sizeof(c->laddr));
	addr_str(ev->raddr, c->raddr, sizeof(c->raddr));
	c->netns = ev->netns;
	c->ppid = ev->ppid;
	c->connect_tid = ev->connect_tid;
	c->connect_ns = ev->connect_ns;
	/* hashed once: every exchange looks its peer up (same-node links) */
	c->thash = tuple_hash(c->laddr, c->lport, c->raddr, c->rport);
	c->peer_hash = tuple_hash(c->raddr, c->rport, c->laddr, c->lport);
	tuple_index(c);
}

/* The decimal port at p (digits up to the first other byte); 0 when there is
 * none or it is over 65535. No strtol: once per request. */
static uint16_t parse_port(const char *p)
{
	uint32_t v = 0;
	int n;

	for (n = 0; p[n] >= '0' && p[n] <= '9'; n++) {
		v = v * 10 + (uint32_t)(p[n] - '0');
		if (v > 65535)
			return 0;
	}
	return (uint16_t)v;
}

/* Splits a Host header into name and port ("[::1]:8080", "a:80", "a"). */
static void host_split(const char *host, char *name, size_t cap, uint16_t *port)
{
	const char *colon;

	*port = 0;
	if (host[0] == '[') {
		const char *end = strchr(host, ']');

		if (!end) {
			zs_strlcpy(name, host, cap);
			return;
		}
		zs_strncpy_trunc(name, cap, host + 1, (size_t)(end - host - 1));
		if (end[1] == ':')
			*port = parse_port(end + 2);
		return;
	}
	colon = strrchr(host, ':');
	if (colon && strchr(host, ':') == colon) {
		zs_strncpy_trunc(name, cap, host, (size_t)(colon - host));
		*port = parse_port(colon + 1);
	} else {
		zs_strlcpy(name, host, cap);
	}
}

/* The context the request carries on the wire (traceparent, else B3):
 * true when one is valid; headers present but all invalid are counted. */
static bool wire_context(const struct zs_http_msg *m, struct zs_trace_ctx *ctx, bool *w3c)
{
	bool seen = false;

	*w3c = false;
	if (m->traceparent[0]) {
		if (zs_traceparent_parse(m->traceparent, strlen(m->traceparent), ctx) == 0) {
			*w3c = true;
			return true;
		}
		seen = true;
	}
	if (m->b3[0]) {
		if (zs_b3_single_parse(m->b3, ctx) == 0)
			return true;
		seen = true;
	}
	if (m->b3_trace[0] || m->b3_span[0]) {
		if (zs_b3_multi_parse(m->b3_trace, m->b3_span, m->b3_sampled, m->b3_flags, ctx) ==
		    0)
			return true;
		seen = true;
	}
	if (seen)
		zs_count(context_invalid);
	return false;
}

static void apply_sampling(struct zs_span *s)
{
	bool sampled = zs_sampler_decide(&opts.sampler, s->has_parent,
					 s->trace_flags & ZS_FLAG_SAMPLED, s->trace_id);

	s->trace_flags =
		(uint8_t)((s->trace_flags & ~ZS_FLAG_SAMPLED) | (sampled ? ZS_FLAG_SAMPLED : 0));
}

/* The n-th request in flight on connection c, oldest first. */
static struct zs_span *pending_at(const struct zs_conn *c, uint32_t n)
{
	return c->pending[(c->p_head + n) % ZS_PIPELINE_MAX];
}

/*
 * Same-node links, from the SERVER side: the CLIENT span on this host that
 * sent SERVER span s's request is the oldest one not yet claimed on the peer
 * connection (requests are read in the order they were sent). On loopback
 * the server may read the request before the client's write returns, so the
 * CLIENT span may not exist yet: s then waits for claim_waiting_server().
 */
static bool link_same_node(struct zs_conn *c, struct zs_span *s)
{
	struct zs_conn *peer = tuple_peer(c, ZS_ROLE_CLIENT);
	uint32_t i;

	for (i = 0; peer && i < peer->p_count; i++) {
		struct zs_span *cs = pending_at(peer, i);

		if (cs->claimed)
			continue;
		cs->claimed = true;
		zs_span_continue(s, cs);
		zs_count(links_same_node);
		return true;
	}
	s->awaiting_peer = c->has_tuple;
	return false;
}

static void finish(struct zs_conn *c, struct zs_span *s);

/*
 * A SERVER span whose request came from this host may end before the
 * client's send is seen at all: the client's thread, preempted after its
 * bytes reached the server but before its send's tracepoint ran, records
 * the request after the whole exchange on the server's side (1 in ~20,000
 * wrk -> nginx requests at saturation with --inject=off here, 1 in 100 on
 * an emulated 2-CPU VM). Such a span is parked on its connection (one at a
 * time; a closing connection is kept for it) for claim_waiting_server(),
 * and leaves as the root it was once a record made ZS_PARK_NS after it has
 * been handled: records are read in the order they were made, so the
 * client's, if made by then, came first. Not by the agent's clock: a
 * record made but not yet committed (its CPU stopped: a VM's vCPU, seen
 * here) holds back all later ones. Records may stop coming (an idle host):
 * then ZS_PARK_MAX_NS by the clock.
 */
#define ZS_PARK_NS (50 * 1000000ULL)
#define ZS_PARK_MAX_NS (1000 * 1000000ULL)

static void park(struct zs_conn *c, struct zs_span *s)
{
	s->was_parked = true;
	c->parked = s;
	c->parked_ns = c->cur_ts;
	c->park_prev = park_tail;
	c->park_next = NULL;
	if (park_tail)
		park_tail->park_next = c;
	else
		park_head = c;
	park_tail = c;
}

static struct zs_span *unpark(struct zs_conn *c)
{
	struct zs_span *s = c->parked;

	if (c->park_prev)
		c->park_prev->park_next = c->park_next;
	else
		park_head = c->park_next;
	if (c->park_next)
		c->park_next->park_prev = c->park_prev;
	else
		park_tail = c->park_prev;
	c->park_prev = c->park_next = NULL;
	c->parked = NULL;
	return s;
}

/* c's parked span leaves unclaimed: a root. */
static void release_parked(struct zs_conn *c)
{
	struct zs_span *s = unpark(c);

	if (s->awaiting_peer)
		zs_count(links_same_node_missed);
	s->awaiting_peer = false;
	finish(c, s);
}

void zs_conn_release_parked(uint64_t now)
{
	while (park_head && (park_head->parked_ns + ZS_PARK_NS <= seen_ts ||
			     park_head->parked_ns + ZS_PARK_MAX_NS <= now)) {
		struct zs_conn *c = park_head;

		release_parked(c);
		if (c->closed)
			conn_remove(c);
	}
}

/* c's record being handled was made at ts: the connection's time, and the
 * latest the records handled so far reached (zs_conn_release_parked). */
static void conn_at(struct zs_conn *c, uint64_t ts)
{
	c->cur_ts = ts;
	if (ts > seen_ts)
		seen_ts = ts;
}

/* Can SERVER span ss, read before CLIENT span cs existed, become its child?
 * Not when ss's trace is taken (its own calls carry it) and so is cs's (cs
 * has a parent, or its ids went out on the wire: fixed). */
static bool claimable(const struct zs_span *ss, const struct zs_span *cs, bool fixed)
{
	return ss->awaiting_peer && (!ss->has_children || (!cs->has_parent && !fixed));
}

/* ss becomes cs's child. When ss's trace is taken by its own calls, cs (a
 * root, claimable()) joins that trace instead of ss joining cs's. */
static void claim(struct zs_span *ss, struct zs_span *cs)
{
	ss->awaiting_peer = false;
	cs->claimed = true;
	if (ss->has_children) {
		memcpy(cs->trace_id, ss->trace_id, sizeof(cs->trace_id));
		cs->trace_flags = ss->trace_flags;
		memcpy(ss->parent_span_id, cs->span_id, sizeof(ss->parent_span_id));
		ss->has_parent = true;
	} else {
		zs_span_continue(ss, cs);
		apply_sampling(ss);
	}
	zs_count(links_same_node);
}

/* Same-node links, from the CLIENT side: a SERVER span on this host that
 * read cs's request before cs existed becomes its child: a parked one (its
 * exchange over: the oldest), else one in flight. fixed: cs's ids are on
 * the wire already (injected). */
static void claim_waiting_server(struct zs_conn *c, struct zs_span *cs, bool fixed)
{
	struct zs_conn *peer = tuple_peer(c, ZS_ROLE_SERVER);
	uint32_t i;

	if (peer && peer->parked && !peer->parked->awaiting_peer) {
		/* it waited for c only to name its client */
		finish(peer, unpark(peer));
		if (peer->closed) {
			conn_remove(peer);
			return;
		}
	}
	if (peer && peer->parked && claimable(peer->parked, cs, fixed)) {
		struct zs_span *ss = unpark(peer);

		claim(ss, cs);
		finish(peer, ss);
		if (peer->closed)
			conn_remove(peer);
		return;
	}
	for (i = 0; peer && i < peer->p_count; i++) {
		struct zs_span *ss = pending_at(peer, i);

		if (!claimable(ss, cs, fixed))
			continue;
		claim(ss, cs);
		return;
	}
}

/* The kernel gave the request at egress position pos context k (an
 * inserted traceparent, or a TLS handoff): its CLIENT span takes it. */
static void queue_injected(struct zs_conn *c, uint64_t pos, const struct zs_kernel_ctx *k)
{
	if (c->n_inj == ZS_INJECT_QUEUE) {
		memmove(c->inj, c->inj + 1, sizeof(c->inj[0]) * (ZS_INJECT_QUEUE - 1));
		c->n_inj--;
		zs_count(inject_unmatched);
	}
	c->inj[c->n_inj].pos = pos;
	c->inj[c->n_inj++].ctx = *k;
}

/* The context injected into the request that starts at pos, taken off c. */
static bool take_injected(struct zs_conn *c, uint64_t pos, struct zs_kernel_ctx *out)
{
	uint32_t i;

	for (i = 0; i < c->n_inj; i++) {
		if (c->inj[i].pos != pos)
			continue;
		*out = c->inj[i].ctx;
		memmove(c->inj + i, c->inj + i + 1, sizeof(c->inj[0]) * (c->n_inj - i - 1));
		c->n_inj--;
		return true;
	}
	return false;
}

/* s continues a context that came over the wire: the sender's trace, the
 * sender's span as parent, its flags. */
static void continue_remote(struct zs_span *s, const uint8_t trace_id[16],
			    const uint8_t parent_id[8], uint8_t flags)
{
	memcpy(s->trace_id, trace_id, 16);
	memcpy(s->parent_span_id, parent_id, 8);
	s->has_parent = true;
	s->trace_flags = flags;
}

/* The request's tracestate on s, when it is well-formed and whole. */
static void keep_tracestate(struct zs_span *s, const struct zs_http_msg *m)
{
	if (!m->tracestate_overflow && zs_tracestate_valid(m->tracestate))
		zs_strlcpy(s->tracestate, m->tracestate, sizeof(s->tracestate));
}

/* With injection on, the kernel decided the context of a request a server
 * reads (and injects it into the thread's calls): the SERVER span takes it. */
static void kernel_server_context(struct zs_conn *c, struct zs_span *s, const struct zs_http_msg *m)
{
	const struct zs_kernel_ctx *k = &c->req_kctx;

	if (k->state == ZS_CTX_INCOMING) {
		continue_remote(s, k->trace_id, k->span_id, k->flags);
		zs_count(context_extracted);
		keep_tracestate(s, m);
		return;
	}
	memcpy(s->trace_id, k->trace_id, 16);
	s->trace_flags = k->flags;
	if (m->traceparent[0] || m->b3[0] || m->b3_trace[0])
		zs_count(context_invalid); /* or B3, which the kernel does not read */
}

/* A CLIENT request the kernel injected a traceparent into: the span is the
 * one the next hop will name as its parent, under the SERVER span in flight
 * of that trace in this process (or its parent). */
static void injected_client_context(struct zs_conn *c, struct zs_span *s,
				    const struct zs_kernel_ctx *k)
{
	memcpy(s->trace_id, k->trace_id, 16);
	memcpy(s->span_id, k->span_id, 8);
	s->trace_flags = k->flags; /* sampled by the kernel, with the same rule */
	if (k->state == ZS_CTX_INCOMING && !zs_link_client_in_trace(s->pid, c->ppid, s))
		zs_count(inject_parent_unknown);
}

/*
 * With injection on, the kernel gave a request that came without a
 * traceparent a new trace, which the server's calls carry: SERVER span s
 * keeps it. A CLIENT span on this host that sent the request as a root (a
 * connection the injector did not enrol: opened before the agent on a kernel
 * that cannot enrol it then, a client bound to its port, a process outside
 * --pid/--exe) joins that trace as s's parent, now or when its request is
 * seen (claim(): s's trace is taken). One with a parent of its own stays in
 * its trace, and the two in theirs.
 */
static void adopt_root_client(struct zs_conn *c, struct zs_span *s)
{
	struct zs_conn *peer = tuple_peer(c, ZS_ROLE_CLIENT);
	uint32_t i;

	s->has_children = true; /* its trace is the kernel's, on the wire already */
	for (i = 0; peer && i < peer->p_count; i++) {
		struct zs_span *cs = pending_at(peer, i);

		if (cs->claimed)
			continue;
		if (!cs->has_parent) {
			s->awaiting_peer = true;
			claim(s, cs);
		}
		return;
	}
	s->awaiting_peer = c->has_tuple;
}

/* How long after connect() a connection's first request is linked to the
 * request its connecting thread served then (as the kernel's injector). */
#define ZS_CONNECT_LINK_NS 1000000000ull

/* A CLIENT span's parent among the requests its process serves: for its
 * connection's first request, sent within ZS_CONNECT_LINK_NS of connect()
 * by the thread that connected (an event loop), the one that thread read
 * last before connect(); else the one its sending thread or process serves
 * (link.c), or none when that is ambiguous. Where another thread sends (a
 * Go program's goroutines), the connecting thread's last request is as
 * often another request's: left to link.c's rules, which rather leave a
 * span unlinked (a Go front, 8 clients: 9-29 of 400 calls linked wrongly
 * this way, 32-34 without the same-thread condition, 9-16 before). */
static bool link_client(struct zs_conn *c, struct zs_span *s, bool first)
{
	uint64_t at = zs_mono_to_unix(c->connect_ns);

	/* Go: the goroutine whose request it is (its handler's, handed to the
	 * connection's writer), not the dialing goroutine's thread */
	if (s->flow)
		return zs_link_client(s->pid, s->flow, c->ppid, s);
	if (first && c->connect_tid && c->connect_tid == s->tid && s->start_ns >= at &&
	    s->start_ns - at < ZS_CONNECT_LINK_NS &&
	    zs_link_client_connect(s->pid, c->connect_tid, at, s))
		return true;
	return zs_link_client(s->pid, s->tid, c->ppid, s);
}

/*
 * Trace id, parent and flags of a new request's span. Where the kernel
 * decided (injection on), its decision: the SERVER span takes the context
 * the kernel gave the request, the CLIENT span the ids it injected.
 * Otherwise a SERVER span joins the trace its request carries, else the
 * CLIENT span on this host that sent it; a CLIENT span keeps the context
 * the app put on its request (it is instrumented: no fork), else joins the
 * request its sender serves. Anything else starts a trace.
 */
static void assign_context(struct zs_conn *c, struct zs_span *s, const struct zs_http_msg *m)
{
	struct zs_trace_ctx ctx;
	struct zs_kernel_ctx k;
	bool w3c, first = s->kind == ZS_KIND_CLIENT && c->calls++ == 0;

	zs_ids_random(s->span_id, sizeof(s->span_id));
	if (s->kind == ZS_KIND_SERVER &&
	    (c->req_kctx.state == ZS_CTX_ROOT || c->req_kctx.state == ZS_CTX_INCOMING)) {
		kernel_server_context(c, s, m);
		if (c->req_kctx.state == ZS_CTX_ROOT)
			adopt_root_client(c, s);
	} else if (s->kind == ZS_KIND_CLIENT && take_injected(c, c->req_begin_pos, &k)) {
		injected_client_context(c, s, &k);
		claim_waiting_server(c, s, true);
		return; /* no sampling here: the flags are those on the wire */
	} else if (wire_context(m, &ctx, &w3c)) {
		continue_remote(s, ctx.trace_id, ctx.span_id, ctx.flags);
		/* tracestate only travels with a valid traceparent (W3C 3.3). */
		if (w3c)
			keep_tracestate(s, m);
		if (s->kind == ZS_KIND_SERVER)
			zs_count(context_extracted);
		else
			zs_count(context_adopted);
	} else if (s->kind == ZS_KIND_CLIENT ? link_client(c, s, first) : link_same_node(c, s)) {
		/* linked */
	} else {
		zs_ids_random(s->trace_id, sizeof(s->trace_id));
	}
	apply_sampling(s);
	if (s->kind == ZS_KIND_SERVER)
		zs_link_server_begin(s->pid, s->flow ? s->flow : s->tid, s);
	else
		claim_waiting_server(c, s, false);
}

static enum zs_http_body req_on_headers(void *u, const struct zs_http_msg *m,
					const struct zs_http_header *h, size_t n)
{
	struct zs_conn *c = ((struct zs_side *)u)->c;
	struct zs_span *s;
	const char *local = "", *remote = "";
	uint16_t host_port = 0;

	if (m->truncated)
		zs_count(capture_truncated);
	s = zs_span_new();
	if (!s)
		return zs_http_request_body(m);
	s->kind = c->role == ZS_ROLE_CLIENT ? ZS_KIND_CLIENT : ZS_KIND_SERVER;
	s->start_ns = zs_mono_to_unix(c->msg_begin_ts[0]);
	s->pid = c->cur_pid;
	s->tid = c->cur_tid;
	s->flow = c->req_flow;
	zs_span_set_method(s, m->method);
	zs_span_set_target(s, m->target, opts.keep_query);
	memcpy(s->scheme, c->tls ? "https" : "http", c->tls ? 6 : 5);
	s->version[0] = '1';
	s->version[1] = '.';
	s->version[2] = (char)('0' + (m->minor_version % 10));
	s->version[3] = 0;
	zs_strlcpy(s->user_agent, m->user_agent, sizeof(s->user_agent));
	if (c->has_tuple) {
		local = c->laddr;
		remote = c->raddr;
		zs_strlcpy(s->peer_address, remote, sizeof(s->peer_address));
		s->peer_port = c->rport;
	}
	if (m->host[0])
		host_split(m->host, s->server_address, sizeof(s->server_address), &host_port);
	if (s->kind == ZS_KIND_SERVER) {
		if (!s->server_address[0])
			zs_strlcpy(s->server_address, local, sizeof(s->server_address));
		s->server_port = host_port ? host_port : c->lport;
		zs_strlcpy(s->client_address, c->proxied[0] ? c->proxied : remote,
			   sizeof(s->client_address));
	} else {
		if (!s->server_address[0])
			zs_strlcpy(s->server_address, remote, sizeof(s->server_address));
		s->server_port = c->rport ? c->rport : host_port;
	}
	if (c->res) {
		zs_resource_ref(c->res);
		s->res = c->res;
	}
	if (c->p_count == ZS_PIPELINE_MAX) {
		/* Far more requests outstanding than any client pipelines: the oldest
		 * will never see its response. */
		zs_span_free(pop_head(c));
		zs_count(exchanges_dropped);
	}
	assign_context(c, s, m);
	c->pending[(c->p_head + c->p_count) % ZS_PIPELINE_MAX] = s;
	c->p_count++;
	return zs_http_request_body(m);
}

static void req_on_complete(void *u)
{
}

static void req_on_lost(void *u, const char *why)
{
	zs_count(parse_errors);
	log_debug("request stream lost: %s", why);
}

static enum zs_http_body resp_on_headers(void *u, const struct zs_http_msg *m,
					 const struct zs_http_header *h, size_t n)
{
	struct zs_conn *c = ((struct zs_side *)u)->c;
	struct zs_span *s = c->p_count ? c->pending[c->p_head] : NULL;
	enum zs_http_body body;

	if (m->truncated)
		zs_count(capture_truncated);
	if (!s) {
		zs_count(unmatched_responses);
		return zs_http_response_body(m, NULL);
	}
	if (m->status / 100 == 1 && m->status != 101) {
		c->resp_informational = true;
		return ZS_BODY_NONE;
	}
	zs_span_set_status(s, m->status);
	body = zs_http_response_body(m, s->method);
	if (body == ZS_BODY_TUNNEL)
		c->tunnel = true;
	else
		zs_http_stream_untunnel(&c->req);
	return body;
}

/* Does SERVER span s wait for its client on this host (park())? To be
 * claimed as its child (awaiting_peer), or, having its context already (from
 * the wire or the kernel), only to name it: a loopback client not seen yet is
 * still in its send (the graph would call it "user"). Once. */
static bool must_wait(const struct zs_conn *c, const struct zs_span *s, const struct zs_conn *peer)
{
	if (s->kind != ZS_KIND_SERVER || s->was_parked)
		return false;
	if (s->awaiting_peer)
		return peer || is_loopback(c->raddr);
	return !peer && is_loopback(c->raddr); /* no tuple: raddr is "" */
}

/* A span is complete: name its peer, let metrics see it (sampled or not),
 * hand it on if its trace is sampled. A SERVER span still waiting for its
 * CLIENT span on this host is parked instead (park()). */
static void finish(struct zs_conn *c, struct zs_span *s)
{
	const struct zs_conn *peer =
		tuple_peer(c, s->kind == ZS_KIND_SERVER ? ZS_ROLE_CLIENT : ZS_ROLE_SERVER);

	if (must_wait(c, s, peer)) {
		if (c->parked)
			release_parked(c);
		park(c, s);
		return;
	}
	if (peer && peer->res) {
		zs_strlcpy(s->peer_service, peer->res->service_name, sizeof(s->peer_service));
	} else if (s->kind == ZS_KIND_CLIENT && c->has_tuple) {
		/* a server on this host that zerospan does not trace */
		uint32_t pid = zs_listeners_pid(c->raddr_bin, c->rport, c->netns, c->pid,
						zs_now_ns(CLOCK_MONOTONIC));
		struct zs_resource *r = pid ? zs_procinfo_get(pid, NULL) : NULL;

		if (r) {
			zs_strlcpy(s->peer_service, r->service_name, sizeof(s->peer_service));
			zs_resource_unref(r);
		}
	}
	if (zs_span_observer)
		zs_span_observer(s);
	if (!(s->trace_flags & ZS_FLAG_SAMPLED) && !(opts.keep_errors && s->error)) {
		zs_count(spans_unsampled);
		zs_span_free(s);
		return;
	}
	zs_count(spans_created);
	if (zs_span_sink)
		zs_span_sink(s);
	else
		zs_span_free(s);
}

static void resp_on_complete(void *u)
{
	struct zs_conn *c = ((struct zs_side *)u)->c;
	struct zs_span *s;

	if (c->resp_informational) {
		c->resp_informational = false;
		return;
	}
	s = pop_head(c);
	if (!s || !s->status) {
		/* unmatched (counted at headers), or a response without a status */
		zs_span_free(s);
		return;
	}
	s->end_ns = zs_mono_to_unix(c->cur_ts);
	finish(c, s);
}

static void resp_on_lost(void *u, const char *why)
{
	struct zs_conn *c = ((struct zs_side *)u)->c;

	zs_count(parse_errors);
	log_debug("response stream lost: %s", why);
	/* Responses can no longer be told apart: pairing any request in flight
	 * with what comes next could be wrong, so drop them (counted). */
	drop_pending(c);
}

void zs_conn_on_data(const struct zs_data_event *ev, const uint8_t *payload)
{
	struct zs_conn *c = lookup(ev->hdr.cookie);
	uint8_t d = ev->dir & 1;
	bool is_req;
	struct zs_http_stream *st;

	if (!c) {
		/* CONN lost (ringbuf full) or evicted: carry on without the tuple. */
		c = conn_create(ev->hdr.cookie, ev->hdr.pid, "", ev->hdr.ts_ns);
		if (!c)
			return;
	}
	lru_touch(c, ev->hdr.ts_ns);
	if (d == ZS_DIR_EGRESS && ev->ctx.state != ZS_CTX_NONE) {
		/* a traceparent the kernel inserted into this send, or the
		 * context it handed off for a TLS request */
		if (ev->ctx.via == ZS_VIA_HANDOFF)
			zs_count(tls_handoffs);
		else
			zs_count(injected);
		queue_injected(c, ev->pos, &ev->ctx);
	}
	if (zs_log_level <= ZS_LOG_DEBUG)
		log_debug("data conn=%llx pid=%u dir=%s op=%u pos=%llu len=%llu cap=%u tail=%u "
			  "start=%u",
			  (unsigned long long)ev->hdr.cookie, ev->hdr.pid,
			  d == ZS_DIR_INGRESS ? "in" : "out", ev->op, (unsigned long long)ev->pos,
			  (unsigned long long)ev->len, ev->cap_len, ev->tail_len, ev->start);
	if (c->pos_known[d] && ev->pos != c->next_pos[d]) {
		/* Events were lost (or the kernel forgot the connection): nothing in
		 * flight can be paired correctly any more. */
		zs_count(stream_gaps);
		drop_pending(c);
		zs_http_stream_reset(&c->req);
		zs_http_stream_reset(&c->resp);
		c->resp_informational = false;
	}
	c->next_pos[d] = ev->pos + ev->len;
	c->pos_known[d] = true;
	if (c->tunnel)
		return;
	if (c->role == ZS_ROLE_UNKNOWN) {
		/* Opened before the agent: the first message start tells the role. */
		if (ev->start == ZS_START_REQUEST)
			c->role = d == ZS_DIR_INGRESS ? ZS_ROLE_SERVER : ZS_ROLE_CLIENT;
		else if (ev->start == ZS_START_RESPONSE)
			c->role = d == ZS_DIR_INGRESS ? ZS_ROLE_CLIENT : ZS_ROLE_SERVER;
		else
			return;
		zs_http_stream_reset(&c->req);
		zs_http_stream_reset(&c->resp);
		/* Indexed now, or a CLIENT span on this host whose request record
		 * comes after this server's could not find its SERVER span. Here
		 * come connections opened before the agent, and every server
		 * socket on Linux 6.1-6.12 came until the kernel side set the
		 * role at ESTABLISHED (zs_set_state). */
		tuple_index(c);
	}
	is_req = (c->role == ZS_ROLE_SERVER) == (d == ZS_DIR_INGRESS);
	st = is_req ? &c->req : &c->resp;
	if (st->state == ZS_HS_IDLE || st->state == ZS_HS_RESYNC) {
		c->msg_begin_ts[is_req ? 0 : 1] = ev->hdr.ts_ns;
		if (is_req) {
			c->req_begin_pos = ev->pos;
			c->req_flow = ev->hdr.flow;
			c->req_kctx = d == ZS_DIR_INGRESS ? ev->ctx : (struct zs_kernel_ctx){ 0 };
		}
	} else if (is_req && d == ZS_DIR_INGRESS && ev->ctx.state != ZS_CTX_NONE) {
		/* the kernel found the context in a later chunk of the headers */
		c->req_kctx = ev->ctx;
	}
	conn_at(c, ev->hdr.ts_ns);
	c->cur_pid = ev->hdr.pid;
	c->cur_tid = ev->hdr.tid;
	zs_http_stream_feed(st, payload, ev->cap_len, ev->len, ev->tail, ev->tail_len,
			    ev->start != ZS_START_NONE);
	zs_gauge_set(header_hold_bytes, zs_http_hold_used);
}

void zs_conn_on_proxy(const struct zs_proxy_event *ev)
{
	struct zs_conn *c = lookup(ev->hdr.cookie);

	if (c && zs_proxy_source(ev->bytes, ev->len, c->proxied, sizeof(c->proxied)) != 0)
		c->proxied[0] = 0;
}

void zs_conn_on_close(const struct zs_close_event *ev)
{
	struct zs_conn *c = lookup(ev->hdr.cookie);
	/* TCP_ESTABLISHED (1) or TCP_CLOSE_WAIT (8) straight to CLOSE: a reset. */
	bool reset = ev->old_state == 1 || ev->old_state == 8;

	if (!c)
		return;
	zs_count(conns_closed);
	conn_at(c, ev->hdr.ts_ns);
	if (!c->tunnel) {
		zs_http_stream_eof(&c->resp);
		zs_http_stream_eof(&c->req);
	}
	while (c->p_count) {
		struct zs_span *s = pop_head(c);

		s->end_ns = zs_mono_to_unix(ev->hdr.ts_ns);
		zs_span_set_aborted(s, reset ? "connection_reset" : "connection_closed");
		finish(c, s);
	}
	if (c->parked)
		c->closed = true; /* kept for its parked span's CLIENT span */
	else
		conn_remove(c);
}

void zs_conn_expire(uint64_t now)
{
	uint64_t idle = (uint64_t)opts.idle_timeout_s * 1000000000ULL;

	while (lru_tail && lru_tail->last_ns + idle < now) {
		zs_count(conns_expired);
		conn_remove(lru_tail);
	}
}

uint32_t zs_conn_count(void)
{
	return n_conns;
}

void zs_conn_table_fini(void)
{
	while (lru_tail)
		conn_remove(lru_tail);
	seen_ts = 0;
	free(table);
	free(tuples);
	table = NULL;
	tuples = NULL;
	zs_link_fini();
}
