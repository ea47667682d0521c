/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Building OTLP protobuf-c messages: an arena for one request's structs,
 * KeyValue lists, the resource of a process. Shared by the trace and the
 * metrics encoders. */
#ifndef ZS_OTLP_BUILD_H
#define ZS_OTLP_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "otlp.pb-c.h"
#include "procinfo.h"

/* All protobuf-c structs of one request come from one arena, freed at once. */
struct zs_arena {
	struct block {
		struct block *next;
		size_t used, cap;
		max_align_t data[];
	} * head;
	int failed;
};

/* A KeyValue list of fixed capacity. Keys and values are not copied: keys
 * are literals, values live in the spans, resources and config, which all
 * outlive the encoding (the exporter frees spans after the request). */
struct zs_kvs {
	Zs__Otlp__KeyValue **v;
	size_t n, cap;
};

void *zs_arena_alloc(struct zs_arena *a, size_t n);
void zs_arena_free(struct zs_arena *a);
int zs_kvs_init(struct zs_arena *a, struct zs_kvs *l, size_t cap);
/* Adds a string attribute (skipped when empty); val is not copied. */
void zs_kv_str(struct zs_arena *a, struct zs_kvs *l, const char *key, const char *val);
void zs_kv_int(struct zs_arena *a, struct zs_kvs *l, const char *key, int64_t val);
/* Receives attributes: a string (never empty) or an integer. */
struct zs_attr_sink {
	void (*str)(void *ctx, const char *key, const char *val);
	void (*i64)(void *ctx, const char *key, int64_t val);
	void *ctx;
};

/* The attributes of the resource of process r (NULL: unknown) in export
 * order, then r's own and the agent's extra attributes whose keys are not
 * taken yet; process.pid only if with_pid. Empty strings are skipped. */
void zs_resource_attrs(const struct zs_resource *r, const struct zs_kv *extra, int n_extra,
		       bool with_pid, const struct zs_attr_sink *out);

/* The same attributes as a protobuf-c Resource. */
Zs__Otlp__Resource *zs_otlp_resource(struct zs_arena *a, const struct zs_resource *r,
				     const struct zs_kv *extra, int n_extra, bool with_pid);

#endif
