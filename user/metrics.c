// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "metrics.h"

#include "sbuf.h"
#include "zerospan_abi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zs_counters zs_metrics;

/* The names and the help texts of an X(name, help) list, as two tables. */
#define ZS_NAME_OF(name, help) #name,
#define ZS_HELP_OF(name, help) help,

static zs_kernel_drops_fn kernel_source;

static const char *const drop_names[] = { ZS_DROP_CAUSES(ZS_NAME_OF) };
static const char *const drop_help[] = { ZS_DROP_CAUSES(ZS_HELP_OF) };

static zs_kernel_drops_fn inject_source, let_go_source;
static zs_metrics_extra_fn extra_source;

void zs_metrics_set_extra(zs_metrics_extra_fn fn)
{
	extra_source = fn;
}

static const char *const inject_names[] = { ZS_INJECT_RESULTS(ZS_NAME_OF) };
static const char *const inject_help[] = { ZS_INJECT_RESULTS(ZS_HELP_OF) };

void zs_metrics_set_kernel_source(zs_kernel_drops_fn fn)
{
	kernel_source = fn;
}

void zs_metrics_set_inject_source(zs_kernel_drops_fn fn)
{
	inject_source = fn;
}

static const char *const let_go_names[] = { ZS_LET_GO_REASONS(ZS_NAME_OF) };
static const char *const let_go_help[] = { ZS_LET_GO_REASONS(ZS_HELP_OF) };

void zs_metrics_set_let_go_source(zs_kernel_drops_fn fn)
{
	let_go_source = fn;
}

void zs_metrics_kernel_drops(uint64_t *out)
{
	memset(out, 0, sizeof(uint64_t) * ZS_DROP__COUNT);
	if (kernel_source)
		kernel_source(out);
}

static void lower(char *dst, const char *src, size_t cap)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < cap; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] + 32 : src[i]);
	dst[i] = 0;
}

/* One counter family with a label per X-macro entry: zerospan_<m>_total{<label>="name",help="..."}. */
static void render_family(struct zs_sbuf *b, const char *m, const char *help, const char *label,
			  const char *const *names, const char *const *helps, const uint64_t *vals,
			  int n, bool om)
{
	const char *fam = om ? "" : "_total";
	char name[64];
	int i;

	zs_sb_printf(b, "# HELP zerospan_%s%s %s\n# TYPE zerospan_%s%s counter\n", m, fam, help, m,
		     fam);
	for (i = 0; i < n; i++) {
		lower(name, names[i], sizeof(name));
		zs_sb_printf(b, "zerospan_%s_total{%s=\"%s\",help=\"%s\"} %llu\n", m, label, name,
			     helps[i], (unsigned long long)vals[i]);
	}
}

char *zs_metrics_render(size_t *len, bool om)
{
	struct zs_sbuf b = { malloc(8192), 0, 8192 };
	const char *fam = om ? "" : "_total"; /* OpenMetrics names counter families without it */
	uint64_t drops[ZS_DROP__COUNT];

	if (!b.p)
		return NULL;
#define ZS_X(field, help)                                                             \
	zs_sb_printf(&b,                                                              \
		     "# HELP zerospan_" #field "%s " help "\n# TYPE zerospan_" #field \
		     "%s counter\nzerospan_" #field "_total %llu\n",                  \
		     fam, fam, (unsigned long long)zs_get(field));
	ZS_COUNTERS(ZS_X)
#undef ZS_X
	zs_metrics_kernel_drops(drops);
	render_family(&b, "kernel_drops", "Events the kernel side could not deliver, by cause",
		      "cause", drop_names, drop_help, drops, ZS_DROP__COUNT, om);
	if (let_go_source) {
		uint64_t n[ZS_LET_GO__COUNT] = { 0 };

		let_go_source(n);
		render_family(&b, "kernel_conns_let_go",
			      "Connections the kernel side stopped looking at, by reason", "reason",
			      let_go_names, let_go_help, n, ZS_LET_GO__COUNT, om);
	}
	if (inject_source) {
		uint64_t inj[ZS_INJ__COUNT] = { 0 };

		inject_source(inj);
		render_family(&b, "inject",
			      "What traceparent injection did with outgoing messages, by result",
			      "result", inject_names, inject_help, inj, ZS_INJ__COUNT, om);
	}
	zs_sb_printf(&b,
		     "# HELP zerospan_export_queue_depth Spans waiting for export\n"
		     "# TYPE zerospan_export_queue_depth gauge\nzerospan_export_queue_depth %llu\n",
		     (unsigned long long)zs_get(queue_depth));
	zs_sb_printf(
		&b,
		"# HELP zerospan_connections_tracked Connections in the table\n"
		"# TYPE zerospan_connections_tracked gauge\nzerospan_connections_tracked %llu\n",
		(unsigned long long)zs_get(conns_tracked));
	zs_sb_printf(
		&b,
		"# HELP zerospan_header_hold_bytes Bytes held for header blocks split over "
		"syscalls\n# TYPE zerospan_header_hold_bytes gauge\nzerospan_header_hold_bytes "
		"%llu\n",
		(unsigned long long)zs_get(header_hold_bytes));
	zs_sb_printf(&b,
		     "# HELP zerospan_processes_cached Processes with cached metadata\n"
		     "# TYPE zerospan_processes_cached gauge\nzerospan_processes_cached %llu\n",
		     (unsigned long long)zs_get(procs_cached));
	zs_sb_printf(&b,
		     "# HELP zerospan_tls_libraries TLS library files with uprobes attached\n"
		     "# TYPE zerospan_tls_libraries gauge\nzerospan_tls_libraries %llu\n",
		     (unsigned long long)zs_get(tls_libraries));
	zs_sb_printf(&b,
		     "# HELP zerospan_go_programs Go program files whose net/http calls are "
		     "followed by goroutine (uprobes attached)\n"
		     "# TYPE zerospan_go_programs gauge\nzerospan_go_programs %llu\n",
		     (unsigned long long)zs_get(go_programs));
	zs_sb_printf(&b,
		     "# HELP zerospan_k8s_containers containers known from the Kubernetes API\n"
		     "# TYPE zerospan_k8s_containers gauge\nzerospan_k8s_containers %llu\n",
		     (unsigned long long)zs_get(k8s_containers));
	zs_sb_printf(
		&b,
		"# HELP zerospan_injection_active 1 while traceparent injection is attached; 0 "
		"with --inject=off or where the kernel refused it or would break reads "
		"(logged)\n# TYPE zerospan_injection_active gauge\nzerospan_injection_active "
		"%llu\n",
		(unsigned long long)zs_get(injection_active));
	if (extra_source)
		extra_source(&b, om);
	if (om)
		zs_sb_printf(&b, "# EOF\n");
	*len = b.len;
	return b.p;
}

void zs_metrics_summary(char *buf, size_t cap)
{
	uint64_t drops[ZS_DROP__COUNT], kernel_lost = 0;
	int i;

	zs_metrics_kernel_drops(drops);
	for (i = 0; i < ZS_DROP__COUNT; i++)
		kernel_lost += drops[i];
	snprintf(buf, cap,
		 "events=%llu kernel_drops=%llu gaps=%llu truncated=%llu parse_errors=%llu "
		 "spans=%llu "
		 "exported=%llu dropped_queue=%llu dropped_export=%llu unconfirmed=%llu "
		 "export_errors=%llu exchanges_dropped=%llu conns=%llu evicted=%llu",
		 (unsigned long long)zs_get(events_received), (unsigned long long)kernel_lost,
		 (unsigned long long)zs_get(stream_gaps),
		 (unsigned long long)zs_get(capture_truncated),
		 (unsigned long long)zs_get(parse_errors),
		 (unsigned long long)zs_get(spans_created),
		 (unsigned long long)zs_get(spans_exported),
		 (unsigned long long)zs_get(spans_dropped_queue_full),
		 (unsigned long long)zs_get(spans_dropped_export_failed),
		 (unsigned long long)zs_get(spans_export_unconfirmed),
		 (unsigned long long)zs_get(export_errors),
		 (unsigned long long)zs_get(exchanges_dropped),
		 (unsigned long long)zs_get(conns_tracked),
		 (unsigned long long)zs_get(conns_evicted));
}
