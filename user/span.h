/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Spans: one per HTTP exchange, SERVER on accepted connections, CLIENT on
 * connected ones, with OpenTelemetry HTTP semantic-convention attributes.
 */
#ifndef ZS_SPAN_H
#define ZS_SPAN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "http1.h"
#include "procinfo.h"
#include "route.h"

/* OTLP SpanKind values. */
enum zs_span_kind { ZS_KIND_SERVER = 2, ZS_KIND_CLIENT = 3 };

struct zs_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8];
	bool has_parent;
	bool claimed;	    /* CLIENT: a SERVER span on this host took it as parent */
	bool awaiting_peer; /* SERVER: a root for now, may be claimed by a CLIENT span */
	bool was_parked;    /* SERVER: has waited once for its client on this host */
	bool has_children;  /* SERVER: a CLIENT span took its trace (zs_link_client): it
			     * keeps the trace it has, so no CLIENT span claims it later */
	uint8_t trace_flags;
	uint32_t pid, tid; /* process and thread that read or sent the request */
	uint32_t flow;	   /* Go: the goroutine it is for (zs_event_hdr.flow), else 0 */
	uint8_t kind;
	bool error;
	uint16_t server_port;
	uint16_t peer_port;
	int status;	   /* 0: no response */
	uint64_t start_ns; /* unix epoch */
	uint64_t end_ns;
	struct zs_resource *res; /* one reference, dropped by zs_span_free */
	struct zs_span *next;	 /* queue link */
	/* Strings only from here on: zs_span_new() zeroes everything above and
	 * empties each string below without clearing its room (most of the
	 * span's ~2.6 KB, which a span seldom fills). A new string field must be
	 * emptied there. */
	char name[64];
	char method[ZS_HTTP_METHOD_MAX];
	char method_original[ZS_HTTP_METHOD_MAX]; /* set when method is _OTHER */
	char path[ZS_HTTP_TARGET_MAX];
	char route[ZS_ROUTE_MAX]; /* low-cardinality template of path (route.h) */
	char query[ZS_HTTP_TARGET_MAX];
	char scheme[8];
	char version[4];
	char server_address[ZS_HTTP_VALUE_MAX];
	char client_address[48];
	char peer_address[48];
	char peer_service[128]; /* the traced process at the other end, if on this host */
	char user_agent[ZS_HTTP_VALUE_MAX];
	char error_type[32];
	char tracestate[ZS_HTTP_TRACESTATE_MAX];
};

/* A new span: all fields zero, all strings empty. NULL when out of memory. */
struct zs_span *zs_span_new(void);

/* Copies n bytes of src as a string, truncating to fit cap (which must be
 * > 0). Cheaper than snprintf("%.*s") on the per-span path. */
static inline void zs_strncpy_trunc(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* Copies a string, truncating to fit cap (which must be > 0). */
static inline void zs_strlcpy(char *dst, const char *src, size_t cap)
{
	zs_strncpy_trunc(dst, cap, src, strlen(src));
}

/* child continues parent's trace, as its child: trace id, flags and
 * tracestate from parent, parent's span id as its parent. */
void zs_span_continue(struct zs_span *child, const struct zs_span *parent);

/* Fills trace and span ids with fresh random values. */
void zs_ids_random(uint8_t *out, size_t len);

/* Normalises a method to the semconv set, or "_OTHER" + method_original. */
void zs_span_set_method(struct zs_span *s, const char *method);

/* Splits a request target into path and query (query kept only if asked)
 * and sets the route; a SERVER span is named "METHOD route" (set kind and
 * method first). */
void zs_span_set_target(struct zs_span *s, const char *target, bool keep_query);

/* Sets status, error flag and error.type from the status code and kind. */
void zs_span_set_status(struct zs_span *s, int status);

/* Marks an exchange that ended without a complete response. */
void zs_span_set_aborted(struct zs_span *s, const char *error_type);

void zs_span_free(struct zs_span *s);

/* hex of n bytes into out (2n+1). */
void zs_hex(const uint8_t *b, size_t n, char *out);

/* Where finished spans go (print, export): set by main. Takes ownership. */
typedef void (*zs_span_sink_fn)(struct zs_span *s);
extern zs_span_sink_fn zs_span_sink;
/* Sees every completed span before sampling (metrics); may adjust its route. */
extern zs_span_sink_fn zs_span_observer;

#endif
