/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * OTLP/HTTP span export: a bounded queue filled by the event loop (each span
 * encoded as it is queued, where its fields are in cache) and a thread that
 * batches, assembles, compresses and POSTs, retrying 429/502/503/504
 * (honouring Retry-After) and network errors with backoff. A full queue
 * holds the caller briefly while the endpoint answers and the event loop's
 * input (the kernel's ring) has room, else drops the span and counts it.
 */
#ifndef ZS_EXPORT_H
#define ZS_EXPORT_H

#include "config.h"
#include "span.h"

#include <time.h>

int zs_export_start(const struct zs_config *cfg);

/* The event loop's input: fill_fn(arg) tells how full it is, 0..1 (called
 * from the event loop while it waits for room in the queue; NULL: none). */
void zs_export_set_upstream(double (*fill_fn)(void *arg), void *arg);

/* Takes ownership of s (encodes and frees it). */
void zs_export_enqueue(struct zs_span *s);

/* Sends what is queued (bounded by the export timeout) and stops the thread. */
void zs_export_stop(void);

/* Parses a Retry-After value (seconds or HTTP-date) into seconds, -1 if bad. */
long zs_parse_retry_after(const char *v, time_t now);

#endif
