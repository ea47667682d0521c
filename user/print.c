// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "print.h"

#include <string.h>
#include <time.h>

static void json_str(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = 0;
}

/* Printable form of untrusted text for a terminal: no control characters. */
static void safe_str(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 1 < cap; s++)
		out[o++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	out[o] = 0;
}

void zs_print_format(const struct zs_span *s, enum zs_print_mode mode, char *buf, size_t cap)
{
	char tid[33], sid[17], pid_hex[17] = "", when[40], path[ZS_HTTP_TARGET_MAX * 6], svc[300];
	time_t secs = (time_t)(s->start_ns / 1000000000ULL);
	struct tm tm;
	double ms = (double)(s->end_ns - s->start_ns) / 1e6;
	const char *kind = s->kind == ZS_KIND_SERVER ? "SERVER" : "CLIENT";

	zs_hex(s->trace_id, 16, tid);
	zs_hex(s->span_id, 8, sid);
	if (s->has_parent)
		zs_hex(s->parent_span_id, 8, pid_hex);
	gmtime_r(&secs, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)((s->start_ns / 1000000ULL) % 1000));
	if (mode == ZS_PRINT_JSON) {
		char ua[ZS_HTTP_VALUE_MAX * 6];

		json_str(path, sizeof(path), s->path);
		json_str(svc, sizeof(svc), s->res ? s->res->service_name : "unknown");
		json_str(ua, sizeof(ua), s->user_agent);
		snprintf(buf, cap,
			 "{\"time\":\"%s\",\"service\":\"%s\",\"pid\":%u,\"kind\":\"%s\","
			 "\"method\":\"%s\","
			 "\"path\":\"%s\",\"status\":%d,\"duration_ms\":%.3f,\"trace_id\":\"%s\","
			 "\"span_id\":\"%s\",\"parent_span_id\":\"%s\",\"peer\":\"%s:%u\","
			 "\"error\":\"%s\"}",
			 when, svc, s->res ? s->res->pid : 0, kind, s->method, path, s->status, ms,
			 tid, sid, pid_hex, s->peer_address, s->peer_port, s->error_type);
		return;
	}
	safe_str(path, sizeof(path), s->path);
	safe_str(svc, sizeof(svc), s->res ? s->res->service_name : "unknown");
	{
		char st[8] = "-";

		if (s->status)
			snprintf(st, sizeof(st), "%d", s->status);
		snprintf(buf, cap, "%s %-14.14s %s %-7s %s %s %.3fms trace=%s span=%s%s%s%s%s",
			 when, svc, kind, s->method, path, st, ms, tid, sid,
			 s->has_parent ? " parent=" : "", pid_hex, s->error ? " error=" : "",
			 s->error_type);
	}
}

void zs_print_span(FILE *out, const struct zs_span *s, enum zs_print_mode mode)
{
	char line[4096];

	if (mode != ZS_PRINT_TEXT && mode != ZS_PRINT_JSON)
		return;
	zs_print_format(s, mode, line, sizeof(line));
	fputs(line, out);
	fputc('\n', out);
	fflush(out);
}
