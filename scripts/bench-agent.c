// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's own CPU per record and per span, without the kernel or the
 * scheduler in the way: replays ringbuf records captured from a real run
 * (ZEROSPAN_RECORD=file, see events.h) through the same handler, span sink
 * steps (live view, service graph, span encoding) and OTLP request assembly
 * the agent runs.
 *   make bench-agent RECORD=file     (scripts/bench-agent.sh makes one)
 * Not a test: timings vary with the machine; compare builds side by side.
 */
#include "conn.h"
#include "events.h"
#include "graph.h"
#include "otlp.h"
#include "span.h"
#include "traces.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BATCH = 512 };

static struct zs_otlp_batch batch;
static size_t n_spans;
static double t_encode;

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* What the export thread does with a full batch: assemble, then empty it. */
static void flush(void)
{
	double t0 = now_ns();
	uint8_t *pb;
	size_t n;

	if (batch.n && zs_otlp_assemble(&batch, NULL, 0, &pb, &n) == 0)
		free(pb);
	zs_otlp_batch_clear(&batch);
	t_encode += now_ns() - t0;
}

/* main.c's span_sink and export.c's enqueue (which encodes the span), with
 * the export queue replaced by the batch above. */
static void sink(struct zs_span *s)
{
	zs_traces_add(s, mono_ns());
	n_spans++;
	zs_otlp_batch_add(&batch, s);
	zs_span_free(s);
	if (batch.n == BATCH)
		flush();
}

int main(int argc, char **argv)
{
	struct zs_conn_opts o = { .max_conns = 16384, .idle_timeout_s = 600, .capture_size = 4096 };
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	double t_handle = 0, t_best = 0, t0, e0, t;
	size_t len = 0, cap = 0, n_rec = 0;
	uint8_t *buf = NULL;
	FILE *f;

	if (argc < 2) {
		fprintf(stderr, "usage: %s RECORD_FILE [rounds]\n", argv[0]);
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* Records are kept 8-byte aligned, as in the ring buffer. */
	for (;;) {
		uint32_t n;

		if (fread(&n, sizeof(n), 1, f) != 1)
			break;
		if (len + 8 + n + 8 > cap) {
			cap = (cap ? cap * 2 : 1 << 20) + n;
			buf = realloc(buf, cap);
			if (!buf)
				return 1;
		}
		memcpy(buf + len, &n, sizeof(n));
		if (fread(buf + len + 8, 1, n, f) != n) {
			fprintf(stderr, "%s: truncated record\n", argv[1]);
			break;
		}
		len += 8 + ((n + 7) & ~7u);
		n_rec++;
	}
	fclose(f);
	if (!n_rec) {
		fprintf(stderr, "%s: no records\n", argv[1]);
		return 1;
	}
	/* the agent's malloc settings (main.c) */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
	zs_span_sink = sink;
	zs_graph_init(&(struct zs_graph_opts){ 64, 4096, 1024 });
	zs_span_observer = zs_graph_observe;
	for (int r = 0; r < rounds; r++) {
		if (zs_conn_table_init(&o))
			return 1;
		e0 = t_encode;
		t0 = now_ns();
		for (size_t off = 0; off < len;) {
			uint32_t n;

			memcpy(&n, buf + off, sizeof(n));
			zs_events_handle(NULL, buf + off + 8, n);
			off += 8 + ((n + 7) & ~7u);
		}
		/* without the batches encoded along the way */
		t = now_ns() - t0 - (t_encode - e0);
		t_handle += t;
		if (!r || t < t_best)
			t_best = t;
		zs_conn_table_fini();
		flush();
	}
	printf("%zu records, %zu spans a round, %d rounds\n", n_rec, n_spans / rounds, rounds);
	printf("handling (span encoding included): %.0f ns/record, %.0f ns/span; "
	       "OTLP request assembly: %.0f ns/span\n",
	       t_handle / ((double)n_rec * rounds), t_handle / (double)n_spans,
	       t_encode / (double)n_spans);
	/* the machine's noise only ever adds: the best round is the steadier
	 * figure for comparing two builds */
	printf("best round: %.0f ns/record, %.0f ns/span\n", t_best / (double)n_rec,
	       t_best / (double)(n_spans / rounds));
	free(buf);
	return 0;
}
