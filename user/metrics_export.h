/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Periodic OTLP/HTTP export of the RED and service-graph metrics to
 * cfg->metrics_url every OTEL_METRIC_EXPORT_INTERVAL, on its own thread,
 * and once more at stop. Cumulative: an export that fails is counted and
 * the next one carries the totals.
 */
#ifndef ZS_METRICS_EXPORT_H
#define ZS_METRICS_EXPORT_H

#include "config.h"

/* Returns 0 or a negative errno. */
int zs_metrics_export_start(const struct zs_config *c);
void zs_metrics_export_stop(void);

#endif
