// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * zerospan: HTTP spans from unmodified programs.
 * kernel events -> decode (events) -> connections (conn) -> HTTP framing
 * (http1) -> spans (span) -> print / OTLP export (print, otlp, export).
 */
#include "admin.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "export.h"
#include "graph.h"
#include "graphcmd.h"
#include "k8s/watch.h"
#include "listeners.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "metrics_export.h"
#include "print.h"
#include "procinfo.h"
#include "route.h"
#include "span.h"
#include "tls.h"
#include "traces.h"
#include "yield.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* The longest the agent sleeps with records unread. The kernel wakes it
 * sooner once half the ring is queued, and at once for a process's
 * first connection (its /proc entry is read while it exists) and for each
 * exec (a new program is scanned for TLS libraries before it serves);
 * draining more often cost more CPU per request (a 20 ms drain: ~7 % more,
 * side by side). */
#define ZS_DRAIN_MS 100

static volatile sig_atomic_t stop_signal;
static struct zs_config cfg;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void span_sink(struct zs_span *s)
{
	/* the live view's windows are one second long: the coarse clock (a few
	 * ms) does, without a clock read per span */
	zs_traces_add(s, zs_now_ns(CLOCK_MONOTONIC_COARSE));
	zs_print_span(stdout, s, cfg.print);
	if (cfg.traces_url[0])
		zs_export_enqueue(s);
	else
		zs_span_free(s);
}

int main(int argc, char **argv)
{
	struct zs_conn_opts copts;
	struct zs_loader *loader = NULL;
	struct sigaction sa;
	char err[512], line[512];
	uint64_t last_tick = 0, last_stats = 0, last_sync = 0, t0;
	int rc, exit_code = 1, n, n_netns;

	if (argc > 1 && strcmp(argv[1], "graph") == 0)
		return zs_graph_command(argc - 1, argv + 1);
	if (zs_config_from_env(&cfg, environ, err, sizeof(err))) {
		fprintf(stderr, "zerospan: %s\n", err);
		return 2;
	}
	rc = zs_config_from_args(&cfg, argc, argv, err, sizeof(err));
	if (rc == 1)
		return 0;
	if (rc) {
		fprintf(stderr, "zerospan: %s\n", err);
		return 2;
	}
	if (cfg.verbose)
		zs_log_level = ZS_LOG_DEBUG;
	/* stdout may be a pipe: spans should still appear line by line */
	setvbuf(stdout, NULL, _IOLBF, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Memory is given back: buffers above 4 MiB (the kernel's BTF, parsed at
	 * start-up, large export batches) are mapped and unmapped instead of
	 * lingering in the heap (a fixed threshold: glibc's adaptive one rises to
	 * 32 MiB after the first such free), the few threads share two arenas,
	 * and free heap pages are returned every 10 s (malloc_trim below), not
	 * on every free that leaves 128 KiB at the heap's top: with that default
	 * each exported batch's spans went back to the kernel and the next ones
	 * were faulted in again (a page fault per ~2 spans). */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
	mallopt(M_ARENA_MAX, 2);
	zs_clock_sync();
	zs_procinfo_init(NULL, 0);
	zs_procinfo_keep_cmdline(cfg.keep_cmdline);
	copts = (struct zs_conn_opts){ cfg.max_conns,  cfg.idle_timeout_s, cfg.capture_size,
				       cfg.keep_query, cfg.sampler,	   cfg.keep_errors };
	if (zs_conn_table_init(&copts)) {
		log_error("connection table: out of memory");
		goto out;
	}
	zs_span_sink = span_sink;
	for (int i = 0; i < cfg.n_routes; i++) {
		if (zs_route_add_pattern(cfg.routes[i], err, sizeof(err))) {
			fprintf(stderr, "zerospan: %s\n", err);
			exit_code = 2;
			goto out;
		}
	}
	zs_graph_init(&(struct zs_graph_opts){ cfg.max_routes, 4096, 1024 });
	zs_span_observer = zs_graph_observe;
	zs_metrics_set_extra(zs_graph_render_prom);
	if (cfg.admin_addr[0]) {
		rc = zs_admin_start(cfg.admin_addr);
		if (rc) {
			log_error("admin endpoint on %s: %s", cfg.admin_addr, strerror(-rc));
			goto out;
		}
		log_info("admin endpoint on http://%s (/metrics /readyz /healthz)", cfg.admin_addr);
	}
	if (cfg.yield && (rc = zs_yield_start()))
		log_warn("agent threads keep normal scheduling: %s", strerror(-rc));
	if (cfg.traces_url[0] && (rc = zs_export_start(&cfg))) {
		log_error("OTLP exporter: %s", strerror(-rc));
		goto out;
	}
	if ((rc = zs_metrics_export_start(&cfg))) {
		log_error("OTLP metrics exporter: %s", strerror(-rc));
		goto out;
	}
	if (zs_k8s_start(&cfg)) {
		exit_code = 2;
		goto out;
	}
	loader = zs_loader_open(&cfg);
	if (!loader)
		goto out;
	/* listeners from before the agent; newer ones come as LISTEN events */
	t0 = zs_now_ns(CLOCK_MONOTONIC);
	n = zs_listeners_scan("/proc", &n_netns);
	log_info("listening sockets open before the start: %d, in %d network namespace%s, read in "
		 "%.1f ms",
		 n, n_netns, n_netns == 1 ? "" : "s",
		 (double)(zs_now_ns(CLOCK_MONOTONIC) - t0) / 1e6);
	zs_yield_enter(zs_loader_backlog, loader);
	zs_export_set_upstream(zs_loader_ring_fill, loader);
	atomic_store(&zs_ready, 1);
	malloc_trim(0); /* what loading the programs parsed (BTF, ELF) is freed */
	log_info("tracing HTTP/1.x%s%s", zs_loader_tls(loader) ? " (HTTPS too)" : "",
		 cfg.print != ZS_PRINT_NONE ? ", spans on stdout" : "");

	while (!stop_signal) {
		uint64_t now = zs_now_ns(CLOCK_MONOTONIC), due = zs_tls_next_due();
		int timeout = ZS_DRAIN_MS;

		/* sooner when a queued TLS scan is due sooner */
		if (due <= now)
			timeout = 0;
		else if (due - now < ZS_DRAIN_MS * 1000000ULL)
			timeout = (int)((due - now + 999999) / 1000000);
		rc = ring_buffer__poll(zs_loader_ringbuf(loader), timeout);
		if (rc < 0 && rc != -EINTR) {
			log_error("ring buffer poll: %s", strerror(-rc));
			goto out;
		}
		/* The kernel wakes us only per batch: drain on every tick too. */
		ring_buffer__consume(zs_loader_ringbuf(loader));
		now = zs_now_ns(CLOCK_MONOTONIC);
		zs_conn_release_parked(now);
		zs_tls_tick(now);
		if (now - last_tick >= 1000000000ULL) {
			last_tick = now;
			zs_conn_expire(now);
			/* 128 a second: a full cache (2,048) in 16 s, ~0.2 ms */
			zs_procinfo_sweep(now, 128);
		}
		if (now - last_sync >= 10000000000ULL) {
			last_sync = now;
			zs_clock_sync();
			malloc_trim(0);
		}
		if (cfg.stats_interval_s &&
		    now - last_stats >= cfg.stats_interval_s * 1000000000ULL) {
			if (last_stats) {
				zs_metrics_summary(line, sizeof(line));
				log_info("%s", line);
			}
			last_stats = now;
		}
	}
	log_info("%s: flushing and detaching", strsignal(stop_signal));
	zs_yield_stop();
	ring_buffer__consume(zs_loader_ringbuf(loader));
	zs_conn_release_parked(UINT64_MAX);
	exit_code = 0;
out:
	zs_yield_stop(); /* before the threads it watches end */
	atomic_store(&zs_ready, 0);
	zs_export_set_upstream(NULL, NULL); /* the ring goes with the loader */
	zs_loader_close(loader);
	zs_conn_table_fini();
	zs_k8s_stop();
	zs_export_stop();
	zs_metrics_export_stop();
	zs_admin_stop();
	zs_metrics_summary(line, sizeof(line));
	if (exit_code == 0)
		log_info("final: %s", line);
	zs_metrics_set_extra(NULL);
	zs_graph_fini();
	zs_traces_clear();
	zs_listeners_clear();
	zs_procinfo_fini();
	return exit_code;
}
