/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's own counters. Every place userspace can lose data has one;
 * the kernel's per-cause drops are read from its map at scrape time.
 */
#ifndef ZS_METRICS_H
#define ZS_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X(field, help). Exposed as zerospan_<field>_total. */
#define ZS_COUNTERS(X)                                                                             \
	X(events_received, "ringbuf records received")                                             \
	X(events_malformed, "ringbuf records rejected by the decoder")                             \
	X(conns_opened, "connections announced by the kernel")                                     \
	X(conns_closed, "connections closed")                                                      \
	X(conns_expired, "connections forgotten after the idle timeout")                           \
	X(conns_evicted, "connections evicted because the table was full")                         \
	X(stream_gaps, "byte-position gaps (lost or unordered events)")                            \
	X(capture_truncated, "header blocks longer than the capture size")                         \
	X(parse_errors, "messages that could not be parsed or framed")                             \
	X(unmatched_responses, "responses without a request to pair with")                         \
	X(exchanges_dropped, "request/response exchanges dropped (gap, overflow, expiry)")         \
	X(spans_created, "spans built")                                                            \
	X(spans_unsampled, "spans not exported: their trace was not sampled")                      \
	X(spans_exported, "spans the OTLP endpoint accepted")                                      \
	X(spans_dropped_queue_full, "spans dropped because the export queue was full")             \
	X(export_queue_waits, "times the event loop waited for the exporter to make room in a "    \
			      "full queue")                                                        \
	X(spans_dropped_export_failed, "spans dropped after export retries ran out")               \
	X(spans_rejected_by_endpoint, "spans the endpoint reported as rejected")                   \
	X(spans_export_unconfirmed, "spans sent whose export timed out unanswered (not resent)")   \
	X(export_requests, "OTLP export requests sent")                                            \
	X(export_errors, "OTLP export requests that failed")                                       \
	X(export_retries, "OTLP export retries")                                                   \
	X(context_extracted, "SERVER spans that joined a trace from traceparent or B3")            \
	X(context_invalid, "traceparent or B3 headers rejected as invalid")                        \
	X(context_adopted, "CLIENT spans that kept the app's own traceparent")                     \
	X(links_thread, "CLIENT spans linked to a request their thread serves")                    \
	X(links_goroutine,                                                                         \
	  "CLIENT spans of Go programs linked to the request their goroutine serves")              \
	X(links_connect, "CLIENT spans linked to the request their connection's connect() served") \
	X(links_process, "CLIENT spans linked to a request their process serves")                  \
	X(links_parent_process, "CLIENT spans linked to a request their parent serves")            \
	X(links_same_node, "SERVER spans linked to a CLIENT span on this host")                    \
	X(links_same_node_missed,                                                                  \
	  "SERVER spans of requests from this host that waited for their CLIENT span in vain")     \
	X(links_ambiguous, "CLIENT spans left unlinked: several requests in flight")               \
	X(link_evictions, "in-flight requests forgotten: link tables full")                        \
	X(injected, "requests the kernel added a traceparent to")                                  \
	X(tls_handoffs, "TLS requests whose context the kernel handed to a server on this host")   \
	X(links_injected, "injected CLIENT spans linked to the request their process serves")      \
	X(inject_parent_unknown, "injected CLIENT spans whose SERVER span was not in flight")      \
	X(inject_unmatched, "injected contexts that matched no request")                           \
	X(tls_attaches, "TLS library files uprobes were attached to")                              \
	X(tls_attach_failed, "TLS library files that could not be attached")                       \
	X(tls_blind_binaries, "programs with TLS code zerospan cannot see (Go, BoringSSL)")        \
	X(tls_scans, "process memory maps scanned for TLS libraries")                              \
	X(tls_scans_dropped, "exec events not scanned: the scan queue was full")                   \
	X(tls_files_untracked, "files not inspected: the TLS file table was full")                 \
	X(tls_procs_untracked, "processes not tracked: the TLS process table was full")            \
	X(routes_overflow, "SERVER spans whose route was one too many for its service")            \
	X(metric_series_overflow, "spans not in the RED metrics: the series table was full")       \
	X(graph_edges_overflow, "spans not in the service graph: the edge table was full")         \
	X(view_traces_skipped, "traces not kept for the live view (admission rate)")               \
	X(view_spans_skipped, "spans not kept for the live view (trace too large)")                \
	X(metrics_exports, "OTLP metrics export requests sent")                                    \
	X(metrics_export_errors, "OTLP metrics exports that failed (the next carries the totals)") \
	X(agent_promotions, "times an agent thread left SCHED_IDLE: its backlog grew (--yield)")   \
	X(listeners_untracked, "listening sockets not remembered: the table was full")             \
	X(k8s_watch_events, "pod watch events received from the Kubernetes API server")            \
	X(k8s_relists, "full lists of this node's pods (start, 410 Gone, after an outage)")        \
	X(k8s_errors, "failed requests to the Kubernetes API server")                              \
	X(k8s_objects_invalid, "pod objects or watch events that could not be read")               \
	X(k8s_containers_dropped, "containers not remembered: the pod table was full")

struct zs_counters {
#define ZS_X(name, help) _Atomic uint64_t name;
	ZS_COUNTERS(ZS_X)
#undef ZS_X
	_Atomic uint64_t queue_depth;
	_Atomic uint64_t conns_tracked;
	_Atomic uint64_t header_hold_bytes;
	_Atomic uint64_t procs_cached;
	_Atomic uint64_t tls_libraries;
	_Atomic uint64_t go_programs;
	_Atomic uint64_t k8s_containers;
	_Atomic uint64_t injection_active;
};

extern struct zs_counters zs_metrics;

#define zs_count(field) atomic_fetch_add_explicit(&zs_metrics.field, 1, memory_order_relaxed)
#define zs_count_n(field, n) atomic_fetch_add_explicit(&zs_metrics.field, (n), memory_order_relaxed)
#define zs_gauge_set(field, v) atomic_store_explicit(&zs_metrics.field, (v), memory_order_relaxed)
#define zs_get(field) atomic_load_explicit(&zs_metrics.field, memory_order_relaxed)

/* Kernel drop counters by cause (summed over CPUs); fills out[ZS_DROP__COUNT]. */
typedef void (*zs_kernel_drops_fn)(uint64_t *out);
void zs_metrics_set_kernel_source(zs_kernel_drops_fn fn);
/* Where injector results (ZS_INJ__COUNT counters) come from; NULL: none. */
void zs_metrics_set_inject_source(zs_kernel_drops_fn fn);
/* Where the let-go counters (ZS_LET_GO__COUNT) come from; NULL: none. */
void zs_metrics_set_let_go_source(zs_kernel_drops_fn fn);
void zs_metrics_kernel_drops(uint64_t *out);

/* More metrics appended to the rendering (the service graph); NULL: none. */
struct zs_sbuf;
typedef void (*zs_metrics_extra_fn)(struct zs_sbuf *b, bool openmetrics);
void zs_metrics_set_extra(zs_metrics_extra_fn fn);

/* Renders all metrics into a malloc'd string: Prometheus text format 0.0.4,
 * or OpenMetrics 1.0 (om; histogram buckets with trace exemplars). */
char *zs_metrics_render(size_t *len, bool om);

/* One line for the periodic log: the numbers that matter for loss. */
void zs_metrics_summary(char *buf, size_t cap);

#endif
