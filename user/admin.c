// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "admin.h"

#include "clock.h"
#include "graph.h"
#include "log.h"
#include "metrics.h"
#include "sbuf.h"
#include "traces.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

atomic_int zs_ready;
extern const char zs_view_html[]; /* user/view.html, built in */
static struct MHD_Daemon *daemon_;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body,
			     size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, 405, "text/plain", "method not allowed\n", 19,
			     MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics") == 0) {
		size_t len = 0;
		const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
		bool om = accept && strstr(accept, "application/openmetrics-text");
		char *body = zs_metrics_render(&len, om);

		if (!body)
			return reply(c, 500, "text/plain", "out of memory\n", 14,
				     MHD_RESPMEM_PERSISTENT);
		return reply(c, 200,
			     om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
				: "text/plain; version=0.0.4",
			     body, len, MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/api/graph") == 0 || strcmp(url, "/api/traces") == 0) {
		const char *fmt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
		struct zs_sbuf b = { malloc(4096), 0, 4096 };
		const char *type = "application/json";

		if (!b.p)
			return reply(c, 500, "text/plain", "out of memory\n", 14,
				     MHD_RESPMEM_PERSISTENT);
		b.p[0] = 0;
		if (url[5] == 't') {
			zs_traces_render_json(&b);
		} else if (fmt && strcmp(fmt, "dot") == 0) {
			zs_graph_render_dot(&b);
			type = "text/vnd.graphviz";
		} else {
			zs_graph_render_json(&b, zs_now_ns(CLOCK_REALTIME));
		}
		return reply(c, 200, type, b.p, b.len, MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/") == 0)
		return reply(c, 200, "text/html; charset=utf-8", (char *)zs_view_html,
			     strlen(zs_view_html), MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/healthz") == 0)
		return reply(c, 200, "text/plain", "ok\n", 3, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/readyz") == 0) {
		if (atomic_load(&zs_ready))
			return reply(c, 200, "text/plain", "ready\n", 6, MHD_RESPMEM_PERSISTENT);
		return reply(c, 503, "text/plain", "attaching\n", 10, MHD_RESPMEM_PERSISTENT);
	}
	return reply(c, 404, "text/plain",
		     "not found: try /, /metrics, /api/graph, /api/traces, /readyz, /healthz\n", 71,
		     MHD_RESPMEM_PERSISTENT);
}

int zs_admin_start(const char *addr)
{
	struct sockaddr_storage ss;
	char host[128];
	const char *colon = strrchr(addr, ':');
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	long port;
	char *end;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	memset(&ss, 0, sizeof(ss));
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		size_t hl = strlen(host);

		if (hl < 2 || host[hl - 1] != ']')
			return -EINVAL;
		host[hl - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &s4->sin_addr) != 1)
			return -EINVAL;
	}
	daemon_ = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, NULL,
				   MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT, 64U,
				   MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
	if (!daemon_)
		return -EADDRINUSE;
	return 0;
}

void zs_admin_stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
}
