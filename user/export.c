// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "export.h"

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "otlp.h"
#include "otlp_http.h"
#include "yield.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ZS_EXPORT_MAX_ATTEMPTS 6
#define ZS_BACKOFF_MAX_MS 32000

static const struct zs_config *cfg;
static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
/* Signalled when the export thread takes a batch off the queue. */
static pthread_cond_t space = PTHREAD_COND_INITIALIZER;
/* Spans wait encoded, in batches of up to bsp_batch: `fill` takes new ones;
 * full batches queue (oldest first) for the export thread, which empties the
 * batch it sent into `spare` for reuse. q_len counts the spans in both. */
static struct zs_otlp_batch *fill, *q_head, *q_tail, *spare;
static uint32_t q_len;
/* a spare batch whose buffer grew past this (huge spans) is freed instead */
#define ZS_SPARE_MAX_BYTES (1u << 20)
static int stopping, started;
static CURL *curl;
static struct curl_slist *headers;

/* Backpressure: a full queue holds the event loop while the endpoint
 * answers (the kernel's ring keeps the records meanwhile), until the thread
 * takes a batch, at most ZS_ENQUEUE_WAIT_MS and only while the ring stays
 * under ZS_ENQUEUE_RING_MAX full (checked every ZS_ENQUEUE_SLICE_MS): a wait
 * never turns spans dropped here into records lost there. With the endpoint
 * failing, or after a wait ran out (until the thread takes the next batch),
 * a full queue drops at once. */
#define ZS_ENQUEUE_WAIT_MS 50
#define ZS_ENQUEUE_SLICE_MS 5
#define ZS_ENQUEUE_RING_MAX 0.75
static int exporter_ok = 1, wait_spent;
static double (*upstream_fill)(void *arg);
static void *upstream_arg;

void zs_export_set_upstream(double (*fill_fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&lock);
	upstream_fill = fill_fn;
	upstream_arg = arg;
	pthread_mutex_unlock(&lock);
}

/* Under the lock, the queue full: waits for room as told above. */
static void wait_for_room(void)
{
	uint64_t start = zs_now_ns(CLOCK_MONOTONIC);

	zs_count(export_queue_waits);
	while (q_len >= cfg->bsp_queue && exporter_ok && !stopping) {
		struct timespec ts;

		if (zs_now_ns(CLOCK_MONOTONIC) - start >= ZS_ENQUEUE_WAIT_MS * 1000000ULL ||
		    (upstream_fill && upstream_fill(upstream_arg) >= ZS_ENQUEUE_RING_MAX)) {
			wait_spent = 1;
			return;
		}
		ts = zs_deadline_ms(CLOCK_REALTIME, ZS_ENQUEUE_SLICE_MS);
		pthread_cond_timedwait(&space, &lock, &ts);
	}
}

void zs_export_enqueue(struct zs_span *s)
{
	pthread_mutex_lock(&lock);
	if (q_len >= cfg->bsp_queue && exporter_ok && !wait_spent && !stopping)
		wait_for_room();
	if (q_len >= cfg->bsp_queue) {
		pthread_mutex_unlock(&lock);
		zs_count(spans_dropped_queue_full);
		zs_span_free(s);
		return;
	}
	if (!fill) {
		fill = spare ? spare : calloc(1, sizeof(*fill));
		spare = NULL;
	}
	/* encoded under the lock: the export thread takes it only to move a
	 * batch, and encoding straight into the batch copies nothing */
	if (!fill || zs_otlp_batch_add(fill, s)) {
		pthread_mutex_unlock(&lock);
		zs_count(spans_dropped_export_failed);
		zs_span_free(s);
		return;
	}
	__atomic_store_n(&q_len, q_len + 1, __ATOMIC_RELAXED);
	zs_gauge_set(queue_depth, q_len);
	if (fill->n >= cfg->bsp_batch) {
		fill->next = NULL;
		if (q_tail)
			q_tail->next = fill;
		else
			q_head = fill;
		q_tail = fill;
		fill = NULL;
		pthread_cond_signal(&cond);
	}
	pthread_mutex_unlock(&lock);
	zs_span_free(s);
}

long zs_parse_retry_after(const char *v, time_t now)
{
	char *end;
	long secs;
	struct tm tm;

	while (*v == ' ')
		v++;
	if (*v >= '0' && *v <= '9') {
		secs = strtol(v, &end, 10);
		while (*end == ' ' || *end == '\r' || *end == '\n')
			end++;
		return *end ? -1 : secs;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return -1;
	secs = (long)(timegm(&tm) - now);
	return secs < 0 ? 0 : secs;
}

struct resp {
	uint8_t body[4096];
	size_t len;
	long retry_after;
};

static size_t on_body(char *p, size_t sz, size_t n, void *u)
{
	struct resp *r = u;
	size_t take = sz * n;

	if (take > sizeof(r->body) - r->len)
		take = sizeof(r->body) - r->len;
	memcpy(r->body + r->len, p, take);
	r->len += take;
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *u)
{
	struct resp *r = u;
	size_t len = sz * n;

	if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		char v[128];

		snprintf(v, sizeof(v), "%.*s", (int)(len - 12 < 127 ? len - 12 : 127), p + 12);
		r->retry_after = zs_parse_retry_after(v, time(NULL));
	}
	return len;
}

/* 1: sent, 0: give up (not retryable), 2: outcome unknown (not resent),
 * -1: retry after *wait_ms. */
static int post_once(const uint8_t *body, size_t len, size_t n_spans, long *wait_ms)
{
	struct resp r = { .retry_after = -1 };
	long code = 0;
	CURLcode cc;

	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
	zs_count(export_requests);
	cc = curl_easy_perform(curl);
	if (cc != CURLE_OK) {
		curl_off_t sent = 0;

		zs_count(export_errors);
		curl_easy_getinfo(curl, CURLINFO_SIZE_UPLOAD_T, &sent);
		/* A request sent whole and then timed out may have been taken: a
		 * retry could deliver its spans twice. Counted, not resent. */
		if (cc == CURLE_OPERATION_TIMEDOUT && sent == (curl_off_t)len) {
			zs_count_n(spans_export_unconfirmed, n_spans);
			log_warn("export to %s: no answer in time after sending %zu spans; not "
				 "resent (they may have arrived)",
				 cfg->traces_url, n_spans);
			return 2;
		}
		log_warn("export to %s: %s", cfg->traces_url, curl_easy_strerror(cc));
		return -1;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300) {
		char msg[256];
		int64_t rejected = zs_otlp_partial_success(r.body, r.len, msg, sizeof(msg));

		if (rejected > 0) {
			zs_count_n(spans_rejected_by_endpoint, (uint64_t)rejected);
			log_warn("export: endpoint rejected %lld spans: %s", (long long)rejected,
				 msg);
		}
		zs_count_n(spans_exported, n_spans - (rejected > 0 ? (uint64_t)rejected : 0));
		return 1;
	}
	zs_count(export_errors);
	if (code == 429 || code == 502 || code == 503 || code == 504) {
		if (r.retry_after >= 0)
			*wait_ms = r.retry_after * 1000 > ZS_BACKOFF_MAX_MS * 4
					   ? ZS_BACKOFF_MAX_MS * 4
					   : r.retry_after * 1000;
		log_warn("export to %s: HTTP %ld, retrying", cfg->traces_url, code);
		return -1;
	}
	log_warn("export to %s: HTTP %ld, %zu spans dropped", cfg->traces_url, code, n_spans);
	return 0;
}

/* Sleeps up to ms, waking early when stopping. */
static void wait_ms_or_stop(long ms)
{
	struct timespec ts = zs_deadline_ms(CLOCK_REALTIME, (uint64_t)ms);

	pthread_mutex_lock(&lock);
	if (!stopping)
		pthread_cond_timedwait(&cond, &lock, &ts);
	pthread_mutex_unlock(&lock);
}

static void export_batch(const struct zs_otlp_batch *b)
{
	size_t n = b->n;
	uint8_t *pb = NULL, *gz = NULL, *body;
	size_t pb_len = 0, gz_len = 0, body_len;
	long backoff = 1000;
	int attempt, rc = 0;

	if (zs_otlp_assemble(b, cfg->res_attrs, cfg->n_res_attrs, &pb, &pb_len)) {
		log_error("export: out of memory encoding %zu spans", n);
		zs_count_n(spans_dropped_export_failed, n);
		return;
	}
	body = pb;
	body_len = pb_len;
	if (cfg->gzip && zs_gzip(pb, pb_len, &gz, &gz_len) == 0) {
		body = gz;
		body_len = gz_len;
	}
	for (attempt = 1; attempt <= ZS_EXPORT_MAX_ATTEMPTS; attempt++) {
		long wait = backoff;

		rc = post_once(body, body_len, n, &wait);
		pthread_mutex_lock(&lock);
		exporter_ok = rc == 1;
		pthread_mutex_unlock(&lock);
		if (rc >= 0)
			break;
		pthread_mutex_lock(&lock);
		/* On shutdown: one more try only, so stopping stays bounded. */
		if (stopping && attempt >= 2) {
			pthread_mutex_unlock(&lock);
			break;
		}
		pthread_mutex_unlock(&lock);
		if (attempt < ZS_EXPORT_MAX_ATTEMPTS) {
			zs_count(export_retries);
			wait_ms_or_stop(wait);
		}
		backoff = backoff * 2 > ZS_BACKOFF_MAX_MS ? ZS_BACKOFF_MAX_MS : backoff * 2;
	}
	if (rc != 1 && rc != 2)
		zs_count_n(spans_dropped_export_failed, n);
	free(pb);
	free(gz);
}

static void batch_free(struct zs_otlp_batch *b)
{
	if (b) {
		zs_otlp_batch_fini(b);
		free(b);
	}
}

/* When the export thread last looked at the queue (CLOCK_MONOTONIC ns) */
static uint64_t looked_ns;

/* How full the queue is beyond the batch that fills while the thread
 * sends the last, 0..1; 1 when spans wait and the thread has not looked
 * for a second past its delay (starved, or sending through retries). A
 * zs_backlog_fn: the watchdog reads it. */
static double queue_backlog(void *arg)
{
	uint32_t n = __atomic_load_n(&q_len, __ATOMIC_RELAXED), batch = cfg->bsp_batch;
	uint64_t looked = __atomic_load_n(&looked_ns, __ATOMIC_RELAXED);

	if (n && zs_now_ns(CLOCK_MONOTONIC) - looked >=
			 cfg->bsp_delay_ms * 1000000ULL + ZS_YIELD_STARVED_NS)
		return 1;
	if (batch >= cfg->bsp_queue)
		return (double)n / (double)cfg->bsp_queue;
	return n <= batch ? 0 : (double)(n - batch) / (double)(cfg->bsp_queue - batch);
}

static void *export_main(void *arg)
{
	pthread_setname_np(pthread_self(), "zs-export");
	__atomic_store_n(&looked_ns, zs_now_ns(CLOCK_MONOTONIC), __ATOMIC_RELAXED);
	zs_yield_enter(queue_backlog, NULL);
	for (;;) {
		struct zs_otlp_batch *b;
		struct timespec ts;
		int stop;

		ts = zs_deadline_ms(CLOCK_REALTIME, cfg->bsp_delay_ms);
		pthread_mutex_lock(&lock);
		while (!stopping && !q_head) {
			if (pthread_cond_timedwait(&cond, &lock, &ts) == ETIMEDOUT)
				break;
		}
		__atomic_store_n(&looked_ns, zs_now_ns(CLOCK_MONOTONIC), __ATOMIC_RELAXED);
		/* a full batch, else (the delay passed, or stopping) what there is */
		b = q_head;
		if (b) {
			q_head = b->next;
			if (!q_head)
				q_tail = NULL;
		} else if (fill && fill->n) {
			b = fill;
			fill = NULL;
		}
		if (b) {
			__atomic_store_n(&q_len, q_len - (uint32_t)b->n, __ATOMIC_RELAXED);
			wait_spent = 0;
			pthread_cond_signal(&space);
		}
		zs_gauge_set(queue_depth, q_len);
		stop = stopping && !q_head && !(fill && fill->n);
		pthread_mutex_unlock(&lock);
		if (b) {
			export_batch(b);
			zs_otlp_batch_clear(b);
			pthread_mutex_lock(&lock);
			if (!spare && b->bytes.cap <= ZS_SPARE_MAX_BYTES) {
				spare = b;
				b = NULL;
			}
			pthread_mutex_unlock(&lock);
			batch_free(b);
		}
		if (stop)
			break;
	}
	return NULL;
}

int zs_export_start(const struct zs_config *c)
{
	int rc;

	cfg = c;
	curl = zs_otlp_http_new(cfg, cfg->traces_url, &headers);
	if (!curl)
		return -ENOMEM;
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	rc = pthread_create(&thread, NULL, export_main, NULL);
	if (rc)
		return -rc;
	started = 1;
	log_info("exporting spans to %s (OTLP/HTTP protobuf%s)", cfg->traces_url,
		 cfg->gzip ? ", gzip" : "");
	return 0;
}

void zs_export_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_broadcast(&cond);
	pthread_cond_broadcast(&space);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	/* the thread sent what there was: only empty batches are left */
	batch_free(fill);
	batch_free(spare);
	fill = spare = NULL;
	zs_otlp_http_free(curl, headers);
	curl = NULL;
	headers = NULL;
	started = 0;
}
