/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Recent traces for the live view (/api/traces): a bounded buffer of the
 * sampled spans grouped by trace. New traces are admitted at a bounded
 * rate (errors have their own allowance); when full, the oldest trace that
 * is neither erroring nor among the slowest goes first. Fed on the event
 * loop, read from the admin thread.
 */
#ifndef ZS_TRACES_H
#define ZS_TRACES_H

#include <stdint.h>

#include "sbuf.h"
#include "span.h"

#define ZS_TRACES_MAX 200	/* traces held */
#define ZS_TRACE_SPANS_MAX 64	/* spans kept per trace */
#define ZS_TRACES_PER_SECOND 50 /* new traces admitted per second, and as many erroring ones */

/* now_ns: CLOCK_MONOTONIC, for the admission rate. */
void zs_traces_add(const struct zs_span *s, uint64_t now_ns);
/* The traces as JSON, newest first. */
void zs_traces_render_json(struct zs_sbuf *b);
void zs_traces_clear(void);

#endif
