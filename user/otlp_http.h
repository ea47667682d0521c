/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A libcurl handle set up for OTLP/HTTP protobuf posts to one URL: content
 * type, gzip, the OTEL_EXPORTER_OTLP_HEADERS, timeouts, user agent. Shared
 * by the trace and the metrics exporters (one handle per thread). */
#ifndef ZS_OTLP_HTTP_H
#define ZS_OTLP_HTTP_H

#include <curl/curl.h>

#include "config.h"

/* Returns the handle and its header list (*headers, to free after the
 * handle), or NULL. */
CURL *zs_otlp_http_new(const struct zs_config *cfg, const char *url, struct curl_slist **headers);

/* Undoes zs_otlp_http_new (the handle, its headers, libcurl's global init). */
void zs_otlp_http_free(CURL *h, struct curl_slist *headers);

#endif
