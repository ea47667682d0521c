/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Head sampling, as the OpenTelemetry SDKs do it (OTEL_TRACES_SAMPLER /
 * OTEL_TRACES_SAMPLER_ARG): always_on, always_off, traceidratio and their
 * parentbased_* forms, which follow the parent's sampled flag when there is
 * a parent. The decision is the span's W3C sampled flag, so what we pass on
 * (tracestate, injected traceparent) matches what we export.
 */
#ifndef ZS_SAMPLER_H
#define ZS_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

enum zs_sampler_kind {
	ZS_SAMPLER_ALWAYS_ON,
	ZS_SAMPLER_ALWAYS_OFF,
	ZS_SAMPLER_RATIO,
};

/* All zero is the default, parentbased_always_on. */
struct zs_sampler {
	enum zs_sampler_kind root; /* for spans without a parent */
	bool ignore_parent;	   /* false (parentbased_*): spans with a parent follow it */
	double ratio;		   /* RATIO: 0..1 */
};

/* Parses OTEL_TRACES_SAMPLER (NULL: parentbased_always_on) and its argument
 * (NULL: 1.0). Returns 0, or -1 for an unknown name or a bad ratio. */
int zs_sampler_parse(struct zs_sampler *s, const char *name, const char *arg);

/* Is a span sampled? has_parent/parent_sampled: the context it continues. */
bool zs_sampler_decide(const struct zs_sampler *s, bool has_parent, bool parent_sampled,
		       const uint8_t trace_id[16]);

#endif
