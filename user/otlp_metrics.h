/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The RED and service-graph tables (graph.h) as one OTLP
 * ExportMetricsServiceRequest, cumulative: a failed export loses nothing,
 * the next one carries the totals. One ResourceMetrics per service for
 * http.server.request.duration and http.client.request.duration; the
 * service-graph metrics under the agent's own resource (service.name
 * "zerospan"), attributes client and server.
 */
#ifndef ZS_OTLP_METRICS_H
#define ZS_OTLP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Returns 0 and a malloc'd buffer (*out_len may be 0: nothing to send), or -ENOMEM. */
int zs_otlp_encode_metrics(const struct zs_kv *extra, int n_extra, uint64_t now_unix_ns,
			   uint8_t **out, size_t *out_len);

#endif
