// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "k8s/watch.h"

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "otlp.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A list answer (all pods of a busy node fit many times over) and one watch
 * event (one Pod object) are bounded; beyond, the answer is dropped and counted. */
#define LIST_MAX (64u << 20)
#define EVENT_MAX (8u << 20)
#define LIST_PAGE 500
#define WATCH_TIMEOUT_S 300
#define BACKOFF_MAX_S 30

static struct {
	struct zs_k8s_pods *pods;
	char api[512];
	char node[256];
	char token_path[300];
	char ca_path[300];
	pthread_t thread;
	bool running;
	atomic_bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char rv[128]; /* resourceVersion to resume the watch from; "" = list first */
	bool logged_down;
} k = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

bool zs_k8s_enabled(void)
{
	return k.running;
}

bool zs_k8s_lookup(const char *container_id, const char *pod_uid, struct zs_k8s_meta *out)
{
	return k.pods && zs_k8s_pods_lookup(k.pods, container_id, pod_uid, out);
}

uint64_t zs_k8s_generation(void)
{
	return zs_k8s_pods_generation(k.pods);
}

/* Sleeps up to s seconds; returns true when asked to stop. */
static bool pause_s(unsigned s)
{
	struct timespec ts = zs_deadline_ms(CLOCK_REALTIME, (uint64_t)s * 1000);

	pthread_mutex_lock(&k.mu);
	while (!atomic_load(&k.stop))
		if (pthread_cond_timedwait(&k.cv, &k.mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&k.mu);
	return atomic_load(&k.stop);
}

static int on_progress(void *u, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	return atomic_load(&k.stop) ? 1 : 0;
}

/* Growing byte buffer with a cap. */
struct buf {
	char *p;
	size_t len, cap, max;
	bool overflow;
};

static bool buf_add(struct buf *b, const char *d, size_t n)
{
	if (b->len + n + 1 > b->max) {
		b->overflow = true;
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 16384;
		char *np;

		while (nc < b->len + n + 1)
			nc *= 2;
		if (nc > b->max)
			nc = b->max;
		if (!(np = realloc(b->p, nc)))
			return false;
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
	return true;
}

static size_t on_list_body(char *d, size_t sz, size_t nm, void *u)
{
	return buf_add(u, d, sz * nm) ? sz * nm : 0;
}

/* Appends "name=value" query pieces, URL-encoded. */
static void url_for(CURL *h, char *out, size_t cap, const char *cont, bool watch)
{
	char *node = curl_easy_escape(h, k.node, 0), *c = NULL, *rv = NULL;
	int n;

	n = snprintf(out, cap, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", k.api,
		     node ? node : "");
	if (watch) {
		rv = curl_easy_escape(h, k.rv, 0);
		snprintf(out + n, cap - (size_t)n,
			 "&watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=%s",
			 WATCH_TIMEOUT_S, rv ? rv : "");
	} else {
		if (cont && *cont)
			c = curl_easy_escape(h, cont, 0);
		snprintf(out + n, cap - (size_t)n, "&limit=%d%s%s", LIST_PAGE,
			 c ? "&continue=" : "", c ? c : "");
	}
	curl_free(node);
	curl_free(c);
	curl_free(rv);
}

/* A handle with the service account's token (re-read each time: projected
 * tokens rotate) and CA. */
static CURL *handle(struct curl_slist **hdrs)
{
	CURL *h = curl_easy_init();
	char tok[16384], hdr[16500];
	int fd;
	ssize_t n = -1;

	*hdrs = curl_slist_append(NULL, "Accept: application/json");
	if ((fd = open(k.token_path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, tok, sizeof(tok) - 1);
		close(fd);
	}
	if (n > 0) {
		tok[n] = 0;
		while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == ' '))
			tok[--n] = 0;
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", tok);
		*hdrs = curl_slist_append(*hdrs, hdr);
	}
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	if (access(k.ca_path, R_OK) == 0)
		curl_easy_setopt(h, CURLOPT_CAINFO, k.ca_path);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "zerospan/" ZS_VERSION);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	return h;
}

static void down(const char *what, const char *detail)
{
	zs_count(k8s_errors);
	if (!k.logged_down)
		log_warn("k8s: %s: %s (retrying with backoff; pods keep their last metadata)", what,
			 detail);
	k.logged_down = true;
}

/* GET one page; returns the parsed body or NULL (counted and logged). */
static struct json_object *get_page(const char *cont)
{
	struct curl_slist *hdrs = NULL;
	CURL *h = handle(&hdrs);
	struct buf b = { .max = LIST_MAX };
	struct json_object *o = NULL;
	char url[2048], detail[128];
	long status = 0;
	CURLcode rc;

	if (!h) {
		curl_slist_free_all(hdrs);
		return NULL;
	}
	url_for(h, url, sizeof(url), cont, false);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_list_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		snprintf(detail, sizeof(detail), "%s%s", curl_easy_strerror(rc),
			 b.overflow ? " (list larger than 64 MiB)" : "");
		if (!atomic_load(&k.stop))
			down("listing pods", detail);
	} else if (status != 200) {
		snprintf(detail, sizeof(detail), "HTTP %ld", status);
		down("listing pods", detail);
	} else if (!(o = json_tokener_parse(b.p ? b.p : ""))) {
		down("listing pods", "the answer is not JSON");
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(b.p);
	return o;
}

/* Lists every pod of this node (all pages) into the table. */
static bool relist(void)
{
	char cont[1024] = "", rv[sizeof(k.rv)] = "";
	uint64_t dropped = 0;
	bool first = true;

	zs_count(k8s_relists);
	while (first || cont[0]) {
		struct json_object *o = get_page(first ? NULL : cont), *md, *items, *v;
		size_t i, n;

		if (!o)
			return false;
		if (first)
			zs_k8s_pods_mark(k.pods);
		first = false;
		items = json_object_object_get_ex(o, "items", &items) ? items : NULL;
		n = json_object_is_type(items, json_type_array) ? json_object_array_length(items)
								: 0;
		for (i = 0; i < n; i++)
			if (zs_k8s_pods_apply(k.pods, ZS_K8S_ADDED,
					      json_object_array_get_idx(items, i), &dropped) < 0)
				zs_count(k8s_objects_invalid);
		cont[0] = 0;
		if (json_object_object_get_ex(o, "metadata", &md)) {
			if (json_object_object_get_ex(md, "continue", &v) &&
			    json_object_is_type(v, json_type_string))
				snprintf(cont, sizeof(cont), "%s", json_object_get_string(v));
			if (json_object_object_get_ex(md, "resourceVersion", &v) &&
			    json_object_is_type(v, json_type_string))
				snprintf(rv, sizeof(rv), "%s", json_object_get_string(v));
		}
		json_object_put(o);
	}
	/* Only a complete list moves the resume point: a failed page lists again. */
	snprintf(k.rv, sizeof(k.rv), "%s", rv);
	zs_k8s_pods_sweep(k.pods);
	zs_count_n(k8s_containers_dropped, dropped);
	zs_gauge_set(k8s_containers, zs_k8s_pods_count(k.pods));
	if (!rv[0]) {
		/* Nothing to watch from: list again later, never in a loop. */
		down("listing pods", "the list has no resourceVersion");
		return false;
	}
	if (k.logged_down)
		log_info("k8s: listing pods of node %s works again", k.node);
	k.logged_down = false;
	log_debug("k8s: %u containers on node %s, resourceVersion %s", zs_k8s_pods_count(k.pods),
		  k.node, k.rv);
	return true;
}

struct stream {
	struct buf line;
	bool gone; /* 410: resourceVersion too old, relist */
};

static void on_event(struct stream *s, const char *text)
{
	uint64_t dropped = 0;
	enum zs_k8s_line r = zs_k8s_watch_line(k.pods, text, k.rv, sizeof(k.rv), &dropped);

	if (r == ZS_K8S_LINE_INVALID) {
		zs_count(k8s_objects_invalid);
		return;
	}
	zs_count(k8s_watch_events);
	zs_count_n(k8s_containers_dropped, dropped);
	zs_gauge_set(k8s_containers, zs_k8s_pods_count(k.pods));
	if (r == ZS_K8S_LINE_GONE)
		s->gone = true;
	else if (r == ZS_K8S_LINE_ERROR)
		down("watching pods", "the API server sent an error event");
}

/* Watch events are one JSON object per line. */
static size_t on_watch_body(char *d, size_t sz, size_t nm, void *u)
{
	struct stream *s = u;
	size_t n = sz * nm, i, start = 0;

	for (i = 0; i < n; i++) {
		if (d[i] != '\n')
			continue;
		if (!buf_add(&s->line, d + start, i - start))
			return 0;
		if (s->line.len)
			on_event(s, s->line.p);
		s->line.len = 0;
		start = i + 1;
		if (s->gone)
			return 0;
	}
	return buf_add(&s->line, d + start, n - start) ? n : 0;
}

/* One watch request, until the server ends it; false on an error. */
static bool watch_once(void)
{
	struct curl_slist *hdrs = NULL;
	CURL *h = handle(&hdrs);
	struct stream s = { .line = { .max = EVENT_MAX } };
	char url[2048], detail[160];
	long status = 0;
	CURLcode rc;
	bool ok = false;

	if (!h) {
		curl_slist_free_all(hdrs);
		return false;
	}
	url_for(h, url, sizeof(url), NULL, true);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)WATCH_TIMEOUT_S + 30);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_watch_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (s.gone || status == 410) {
		k.rv[0] = 0; /* too old: relist */
		ok = true;
	} else if (rc == CURLE_OK && status == 200) {
		ok = true;
	} else if (!atomic_load(&k.stop)) {
		if (rc != CURLE_OK)
			snprintf(detail, sizeof(detail), "%s%s", curl_easy_strerror(rc),
				 s.line.overflow ? " (an event larger than 8 MiB)" : "");
		else
			snprintf(detail, sizeof(detail), "HTTP %ld", status);
		down("watching pods", detail);
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(s.line.p);
	return ok;
}

static void *run(void *arg)
{
	unsigned backoff = 1;

	while (!atomic_load(&k.stop)) {
		bool ok = k.rv[0] ? watch_once() : relist();

		if (ok) {
			backoff = 1;
			continue;
		}
		if (pause_s(backoff))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
		/* After an outage resume from k.rv; a 410 then sends us to relist. */
	}
	return NULL;
}

int zs_k8s_start(const struct zs_config *cfg)
{
	if (cfg->k8s == ZS_K8S_OFF || (cfg->k8s == ZS_K8S_AUTO && !cfg->k8s_api[0]))
		return 0;
	if (!cfg->k8s_api[0]) {
		log_error(
			"--k8s=on: no API server (KUBERNETES_SERVICE_HOST unset; give --k8s-api)");
		return -1;
	}
	snprintf(k.api, sizeof(k.api), "%s", cfg->k8s_api);
	while (strlen(k.api) && k.api[strlen(k.api) - 1] == '/')
		k.api[strlen(k.api) - 1] = 0;
	if (cfg->k8s_node[0])
		snprintf(k.node, sizeof(k.node), "%s", cfg->k8s_node);
	else if (gethostname(k.node, sizeof(k.node) - 1))
		k.node[0] = 0;
	else
		log_warn("k8s: NODE_NAME not set: taking the host name '%s' as the node's name "
			 "(in a pod without hostNetwork it is the pod's)",
			 k.node);
	if (!k.node[0]) {
		log_error("k8s: no node name (set NODE_NAME from spec.nodeName, or --k8s-node)");
		return -1;
	}
	snprintf(k.token_path, sizeof(k.token_path), "%s/token", cfg->k8s_sa_dir);
	snprintf(k.ca_path, sizeof(k.ca_path), "%s/ca.crt", cfg->k8s_sa_dir);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	k.pods = zs_k8s_pods_new(cfg->k8s_max_containers);
	if (!k.pods) {
		curl_global_cleanup();
		return -1;
	}
	atomic_store(&k.stop, false);
	k.rv[0] = 0;
	if (pthread_create(&k.thread, NULL, run, NULL)) {
		zs_k8s_pods_free(k.pods);
		k.pods = NULL;
		curl_global_cleanup();
		return -1;
	}
	k.running = true;
	log_info("k8s: watching pods of node %s at %s", k.node, k.api);
	return 0;
}

void zs_k8s_stop(void)
{
	struct zs_k8s_pods *p = k.pods;

	if (!k.running)
		return;
	pthread_mutex_lock(&k.mu);
	atomic_store(&k.stop, true);
	pthread_cond_broadcast(&k.cv);
	pthread_mutex_unlock(&k.mu);
	pthread_join(k.thread, NULL);
	k.running = false;
	k.pods = NULL;
	zs_k8s_pods_free(p);
	curl_global_cleanup();
}
