// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otlp_http.h"

#include "otlp.h"

#include <stdio.h>

CURL *zs_otlp_http_new(const struct zs_config *cfg, const char *url, struct curl_slist **headers)
{
	CURL *h;
	char hdr[1024];
	int i;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	h = curl_easy_init();
	if (!h) {
		curl_global_cleanup();
		return NULL;
	}
	*headers = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
	if (cfg->gzip)
		*headers = curl_slist_append(*headers, "Content-Encoding: gzip");
	/* No "Expect: 100-continue", which curl adds to a body over 1 MiB (a
	 * batch of large spans): a round trip before every such request, and a
	 * second's stall behind an endpoint or proxy that never answers it. */
	*headers = curl_slist_append(*headers, "Expect:");
	for (i = 0; i < cfg->n_headers; i++) {
		snprintf(hdr, sizeof(hdr), "%s: %s", cfg->headers[i].key, cfg->headers[i].value);
		*headers = curl_slist_append(*headers, hdr);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "zerospan/" ZS_VERSION);
	return h;
}

void zs_otlp_http_free(CURL *h, struct curl_slist *headers)
{
	if (!h)
		return;
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	curl_global_cleanup();
}
