// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "metrics_export.h"

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "otlp.h"
#include "otlp_http.h"
#include "otlp_metrics.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const struct zs_config *cfg;
static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static int stopping, started;
static CURL *curl;
static struct curl_slist *headers;

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	return sz * n;
}

static void export_once(void)
{
	uint8_t *pb = NULL, *gz = NULL;
	size_t pb_len = 0, gz_len = 0;
	long code = 0;
	CURLcode cc;

	if (zs_otlp_encode_metrics(cfg->res_attrs, cfg->n_res_attrs, zs_now_ns(CLOCK_REALTIME), &pb,
				   &pb_len)) {
		zs_count(metrics_export_errors);
		return;
	}
	if (!pb_len) {
		free(pb);
		return;
	}
	if (cfg->gzip && zs_gzip(pb, pb_len, &gz, &gz_len) == 0) {
		free(pb);
		pb = gz;
		pb_len = gz_len;
	}
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, pb);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)pb_len);
	zs_count(metrics_exports);
	cc = curl_easy_perform(curl);
	if (cc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	if (cc != CURLE_OK || code < 200 || code >= 300) {
		zs_count(metrics_export_errors);
		log_warn("metrics export to %s: %s", cfg->metrics_url,
			 cc != CURLE_OK ? curl_easy_strerror(cc) : "HTTP error");
	}
	free(pb);
}

static void *export_main(void *arg)
{
	struct timespec until;
	int stop = 0;

	while (!stop) {
		until = zs_deadline_ms(CLOCK_MONOTONIC, cfg->metric_interval_ms);
		pthread_mutex_lock(&lock);
		while (!stopping && pthread_cond_timedwait(&cond, &lock, &until) != ETIMEDOUT)
			;
		stop = stopping;
		pthread_mutex_unlock(&lock);
		export_once(); /* the last one at stop: the final totals */
	}
	return NULL;
}

int zs_metrics_export_start(const struct zs_config *c)
{
	pthread_condattr_t ca;
	int rc;

	cfg = c;
	if (!cfg->metrics_url[0])
		return 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cond, &ca);
	curl = zs_otlp_http_new(cfg, cfg->metrics_url, &headers);
	if (!curl)
		return -ENOMEM;
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	rc = pthread_create(&thread, NULL, export_main, NULL);
	if (rc)
		return -rc;
	started = 1;
	log_info("exporting metrics to %s every %u ms", cfg->metrics_url, cfg->metric_interval_ms);
	return 0;
}

void zs_metrics_export_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	zs_otlp_http_free(curl, headers);
	curl = NULL;
	headers = NULL;
	started = 0;
}
