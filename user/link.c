// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "link.h"

#include "metrics.h"
#include "zerospan_abi.h"

#include <stdlib.h>
#include <string.h>

/* Probes per lookup in the open-addressed process table; a full window
 * evicts its least recently used entry. */
#define PROBES 8
/* Requests in flight per process at most (an event loop under load). */
#define SERVED_MAX 4096

struct served {
	struct zs_span *s;
	uint32_t tid;
};

struct proc {
	uint32_t pid; /* 0: free slot */
	uint32_t n, cap;
	uint64_t used; /* last use, for eviction */
	struct served *v;
};

static struct proc *procs;
static uint32_t mask;
static uint64_t clock_seq;

static uint32_t mix(uint32_t k)
{
	uint64_t x = k * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(x >> 32);
}

int zs_link_init(uint32_t max_procs)
{
	uint32_t n = 64;

	while (n < max_procs && n < (1u << 20))
		n <<= 1;
	procs = calloc(n, sizeof(*procs));
	if (!procs)
		return -1;
	mask = n - 1;
	return 0;
}

static void proc_clear(struct proc *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

void zs_link_fini(void)
{
	uint32_t i;

	for (i = 0; procs && i <= mask; i++)
		proc_clear(&procs[i]);
	free(procs);
	procs = NULL;
}

static struct proc *proc_find(uint32_t pid, bool create)
{
	uint32_t h = mix(pid), i;
	struct proc *free_p = NULL, *lru = NULL;

	for (i = 0; i < PROBES; i++) {
		struct proc *p = &procs[(h + i) & mask];

		if (p->pid == pid) {
			p->used = ++clock_seq;
			return p;
		}
		if (p->pid == 0 && !free_p)
			free_p = p;
		if (!lru || p->used < lru->used)
			lru = p;
	}
	if (!create)
		return NULL;
	if (!free_p) {
		zs_count(link_evictions);
		proc_clear(lru);
		free_p = lru;
	}
	free_p->pid = pid;
	free_p->used = ++clock_seq;
	return free_p;
}

void zs_link_server_begin(uint32_t pid, uint32_t tid, struct zs_span *s)
{
	struct proc *p;

	if (!procs || !pid)
		return;
	p = proc_find(pid, true);
	if (p->n == p->cap) {
		uint32_t cap = p->cap ? p->cap * 2 : 4;
		struct served *v;

		if (cap > SERVED_MAX || !(v = realloc(p->v, cap * sizeof(*v)))) {
			zs_count(link_evictions);
			return;
		}
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = (struct served){ s, tid };
}

void zs_link_server_end(uint32_t pid, const struct zs_span *s)
{
	struct proc *p;
	uint32_t i;

	if (!procs || !pid || !(p = proc_find(pid, false)))
		return;
	for (i = 0; i < p->n; i++) {
		if (p->v[i].s == s) {
			p->v[i] = p->v[--p->n];
			break;
		}
	}
	if (p->n == 0)
		proc_clear(p);
}

static bool same_request(const struct zs_span *server, const struct zs_span *client)
{
	return strcmp(server->method, client->method) == 0 &&
	       strcmp(server->path, client->path) == 0;
}

/*
 * The unique candidate among p's requests in flight read by thread tid (any
 * thread when tid is 0): the only one, or the only one with c's method and
 * path. *ambiguous says there were several and none stood out.
 */
static struct zs_span *pick(const struct proc *p, uint32_t tid, const struct zs_span *c,
			    bool *ambiguous)
{
	struct zs_span *only = NULL, *match = NULL;
	uint32_t i, n = 0, n_match = 0;

	for (i = 0; i < p->n; i++) {
		if (tid && p->v[i].tid != tid)
			continue;
		n++;
		only = p->v[i].s;
		if (same_request(only, c)) {
			n_match++;
			match = only;
		}
	}
	if (n == 1)
		return only;
	if (n_match == 1)
		return match;
	if (n > 1)
		*ambiguous = true;
	return NULL;
}

bool zs_link_client(uint32_t pid, uint32_t tid, uint32_t ppid, struct zs_span *s)
{
	struct zs_span *parent = NULL;
	const struct proc *p;
	bool ambiguous = false;

	if (!procs || !pid)
		return false;
	p = proc_find(pid, false);
	if (p) {
		parent = pick(p, tid, s, &ambiguous);
		if (parent && (tid & ZS_FLOW_BIT))
			zs_count(links_goroutine);
		else if (parent)
			zs_count(links_thread);
		else if (!ambiguous && (parent = pick(p, 0, s, &ambiguous)))
			zs_count(links_process);
	} else if (ppid && (p = proc_find(ppid, false)) && (parent = pick(p, 0, s, &ambiguous))) {
		zs_count(links_parent_process);
	}
	if (!parent) {
		if (ambiguous)
			zs_count(links_ambiguous);
		return false;
	}
	zs_span_continue(s, parent);
	parent->has_children = true;
	return true;
}

bool zs_link_client_connect(uint32_t pid, uint32_t tid, uint64_t at_ns, struct zs_span *s)
{
	struct zs_span *best = NULL;
	const struct proc *p;
	uint32_t i;

	if (!procs || !pid || !tid || !(p = proc_find(pid, false)))
		return false;
	for (i = 0; i < p->n; i++) {
		struct zs_span *v = p->v[i].s;

		if (p->v[i].tid == tid && v->start_ns <= at_ns &&
		    (!best || v->start_ns > best->start_ns))
			best = v;
	}
	if (!best)
		return false;
	zs_span_continue(s, best);
	best->has_children = true;
	zs_count(links_connect);
	return true;
}

static const struct zs_span *find_trace(const struct proc *p, const uint8_t trace_id[16])
{
	uint32_t i;

	for (i = 0; p && i < p->n; i++)
		if (memcmp(p->v[i].s->trace_id, trace_id, 16) == 0)
			return p->v[i].s;
	return NULL;
}

bool zs_link_client_in_trace(uint32_t pid, uint32_t ppid, struct zs_span *s)
{
	const struct zs_span *parent;

	if (!procs || !pid)
		return false;
	parent = find_trace(proc_find(pid, false), s->trace_id);
	if (!parent && ppid)
		parent = find_trace(proc_find(ppid, false), s->trace_id);
	if (!parent)
		return false;
	memcpy(s->parent_span_id, parent->span_id, 8);
	s->has_parent = true;
	zs_strlcpy(s->tracestate, parent->tracestate, sizeof(s->tracestate));
	zs_count(links_injected);
	return true;
}
