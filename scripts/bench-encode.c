// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Export-path micro-benchmark: encodes batches of typical SERVER spans to
 * OTLP protobuf (and gzip) and prints the cost per span. `make bench-encode`.
 * Not a test: timings vary with the machine; compare runs taken side by side.
 */
#include "otlp.h"
#include "span.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { BATCH = 512, ROUNDS = 400 };

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(void)
{
	static struct zs_span *spans[BATCH];
	struct zs_resource *r = calloc(1, sizeof(*r));
	double t0, t_enc = 0, t_gz = 0;
	size_t bytes = 0, gz_bytes = 0;
	int i, k;

	if (!r)
		return 1;
	atomic_store(&r->refs, 1);
	r->pid = 42;
	snprintf(r->service_name, sizeof(r->service_name), "nginx");
	snprintf(r->exe_name, sizeof(r->exe_name), "nginx");
	snprintf(r->exe_path, sizeof(r->exe_path), "/usr/sbin/nginx");
	for (i = 0; i < BATCH; i++) {
		struct zs_span *s = calloc(1, sizeof(*s));

		if (!s)
			return 1;
		s->kind = ZS_KIND_SERVER;
		zs_ids_random(s->trace_id, 16);
		zs_ids_random(s->span_id, 8);
		s->has_parent = true;
		zs_span_set_method(s, "GET");
		zs_span_set_target(s, "/index.html", false);
		zs_span_set_status(s, 200);
		s->start_ns = 1700000000000000000ULL + (uint64_t)i * 1000;
		s->end_ns = s->start_ns + 50000;
		snprintf(s->scheme, sizeof(s->scheme), "http");
		snprintf(s->version, sizeof(s->version), "1.1");
		snprintf(s->server_address, sizeof(s->server_address), "127.0.0.1");
		s->server_port = 8080;
		snprintf(s->client_address, sizeof(s->client_address), "127.0.0.1");
		snprintf(s->peer_address, sizeof(s->peer_address), "127.0.0.1");
		s->peer_port = (uint16_t)(40000 + i);
		snprintf(s->user_agent, sizeof(s->user_agent), "wrk");
		s->res = r;
		spans[i] = s;
	}
	for (k = 0; k < ROUNDS; k++) {
		uint8_t *pb, *gz;
		size_t n, gn;

		t0 = now_ns();
		if (zs_otlp_encode_traces(spans, BATCH, NULL, 0, &pb, &n))
			return 1;
		t_enc += now_ns() - t0;
		t0 = now_ns();
		if (zs_gzip(pb, n, &gz, &gn))
			return 1;
		t_gz += now_ns() - t0;
		bytes += n;
		gz_bytes += gn;
		free(pb);
		free(gz);
	}
	printf("OTLP encoding: %.0f ns/span, %zu bytes/span; gzip (level 1): %.0f ns/span, "
	       "%zu bytes/span\n",
	       t_enc / (ROUNDS * BATCH), bytes / ((size_t)ROUNDS * BATCH), t_gz / (ROUNDS * BATCH),
	       gz_bytes / ((size_t)ROUNDS * BATCH));
	return 0;
}
