// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "span.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

zs_span_sink_fn zs_span_sink;
zs_span_sink_fn zs_span_observer;

/* xoshiro256** seeded from getrandom(): ids need uniqueness, not secrecy,
 * and a syscall per span would cost more than the span. */
static uint64_t rng[4];
static int rng_ready;

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
	uint64_t r = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;

	rng[2] ^= rng[0];
	rng[3] ^= rng[1];
	rng[1] ^= rng[2];
	rng[0] ^= rng[3];
	rng[2] ^= t;
	rng[3] = rotl(rng[3], 45);
	return r;
}

void zs_ids_random(uint8_t *out, size_t len)
{
	size_t i;
	int nonzero = 0;

	if (!rng_ready) {
		if (getrandom(rng, sizeof(rng), 0) != sizeof(rng)) {
			rng[0] = (uint64_t)(uintptr_t)&rng ^ 0x9e3779b97f4a7c15ULL;
			rng[1] = 0xbf58476d1ce4e5b9ULL;
			rng[2] = 0x94d049bb133111ebULL;
			rng[3] = 1;
		}
		rng_ready = 1;
	}
	do {
		for (i = 0; i < len; i += 8) {
			uint64_t v = rng_next();
			size_t n = len - i < 8 ? len - i : 8;

			memcpy(out + i, &v, n);
		}
		for (i = 0; i < len; i++)
			nonzero |= out[i];
	} while (!nonzero); /* all-zero ids are invalid */
}

void zs_hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

void zs_span_set_method(struct zs_span *s, const char *method)
{
	static const char *const known[] = { "GET",   "POST",	 "PUT",	    "DELETE", "HEAD",
					     "PATCH", "OPTIONS", "CONNECT", "TRACE" };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(method, known[i]) == 0) {
			zs_strlcpy(s->method, method, sizeof(s->method));
			zs_strlcpy(s->name, method, sizeof(s->name));
			return;
		}
	}
	/* Keeps the span name and the method attribute low-cardinality. */
	snprintf(s->method, sizeof(s->method), "_OTHER");
	zs_strlcpy(s->method_original, method, sizeof(s->method_original));
	snprintf(s->name, sizeof(s->name), "HTTP");
}

void zs_span_set_target(struct zs_span *s, const char *target, bool keep_query)
{
	const char *q = strchr(target, '?'), *path = target;
	size_t plen;

	/* absolute-form (proxies): keep the path part only */
	if (strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0) {
		const char *p = strchr(strstr(target, "//") + 2, '/');

		path = p ? p : "/";
		q = strchr(path, '?');
	}
	plen = q ? (size_t)(q - path) : strlen(path);
	if (plen >= sizeof(s->path))
		plen = sizeof(s->path) - 1;
	memcpy(s->path, path, plen);
	s->path[plen] = 0;
	zs_route_of(s->path, s->route, sizeof(s->route));
	/* SERVER spans are named after their route (semantic conventions) */
	if (s->kind == ZS_KIND_SERVER && strcmp(s->method, "_OTHER") != 0) {
		size_t m = strlen(s->method);

		/* "METHOD route", truncated to fit; no snprintf per span */
		zs_strncpy_trunc(s->name, sizeof(s->name), s->method, m);
		if (m + 1 < sizeof(s->name)) {
			s->name[m] = ' ';
			zs_strlcpy(s->name + m + 1, s->route, sizeof(s->name) - m - 1);
		}
	}
	s->query[0] = 0;
	if (q && keep_query)
		zs_strlcpy(s->query, q + 1, sizeof(s->query));
}

void zs_span_set_status(struct zs_span *s, int status)
{
	s->status = status;
	s->error = s->kind == ZS_KIND_SERVER ? status >= 500 : status >= 400;
	if (s->error)
		snprintf(s->error_type, sizeof(s->error_type), "%d", status);
}

void zs_span_set_aborted(struct zs_span *s, const char *error_type)
{
	s->error = true;
	zs_strlcpy(s->error_type, error_type, sizeof(s->error_type));
}

void zs_span_continue(struct zs_span *child, const struct zs_span *parent)
{
	memcpy(child->trace_id, parent->trace_id, sizeof(child->trace_id));
	memcpy(child->parent_span_id, parent->span_id, sizeof(child->parent_span_id));
	child->has_parent = true;
	child->trace_flags = parent->trace_flags;
	zs_strlcpy(child->tracestate, parent->tracestate, sizeof(child->tracestate));
}

/* Spans a thread freed, kept (up to SPARE_MAX) for its next ones: at
 * ~2.6 KB a span is beyond malloc's per-thread cache, and the event loop
 * both makes spans and, once encoded for export, frees them. Sanitizer
 * builds always free, so that a use after free is still caught. */
#define SPARE_MAX 64
static __thread struct zs_span *spare;
static __thread unsigned int n_spare;

struct zs_span *zs_span_new(void)
{
	struct zs_span *s = spare;

	if (s) {
		spare = s->next;
		n_spare--;
	} else if (!(s = malloc(sizeof(*s)))) {
		return NULL;
	}
#ifdef ZS_SPAN_POISON
	/* sanitizer builds: a string left unset shows as garbage in the tests */
	memset(s, 0xa5, sizeof(*s));
#endif
	memset(s, 0, offsetof(struct zs_span, name));
	s->name[0] = s->method[0] = s->method_original[0] = s->path[0] = s->route[0] = 0;
	s->query[0] = s->scheme[0] = s->version[0] = s->server_address[0] = 0;
	s->client_address[0] = s->peer_address[0] = s->peer_service[0] = s->user_agent[0] = 0;
	s->error_type[0] = s->tracestate[0] = 0;
	return s;
}

void zs_span_free(struct zs_span *s)
{
	if (!s)
		return;
	zs_resource_unref(s->res);
#ifndef ZS_SPAN_POISON
	if (n_spare < SPARE_MAX) {
		s->next = spare;
		spare = s;
		n_spare++;
		return;
	}
#endif
	free(s);
}
