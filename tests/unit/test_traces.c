// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The live view's trace buffer: bounded, admission-limited, keeps the
 * erroring and the slowest traces when it has to evict. */
#include "metrics.h"
#include "traces.h"
#include "zs_test.h"

#include <stdlib.h>

static struct zs_resource res = { .service_name = "svc" };

static struct zs_span mk(uint32_t trace, uint32_t span, bool error, uint64_t dur_ms)
{
	struct zs_span s;

	memset(&s, 0, sizeof(s));
	memcpy(s.trace_id, &trace, 4);
	memcpy(s.trace_id + 12, &trace, 4);
	memcpy(s.span_id, &span, 4);
	s.kind = ZS_KIND_SERVER;
	s.error = error;
	s.status = error ? 500 : 200;
	s.res = &res;
	snprintf(s.name, sizeof(s.name), "GET /t/%u", trace);
	s.start_ns = 1000000000000ULL + trace * 1000ULL;
	s.end_ns = s.start_ns + dur_ms * 1000000ULL;
	return s;
}

static int count(const char *s, const char *needle)
{
	int n = 0;

	for (; (s = strstr(s, needle)) != NULL; s++)
		n++;
	return n;
}

int main(void)
{
	uint64_t now = 5000000000ULL, skipped = zs_get(view_traces_skipped);
	struct zs_sbuf b = { malloc(1024), 0, 1024 };
	struct zs_span s;
	uint32_t t;

	zs_traces_clear();
	/* 60 new traces in one second: 50 admitted */
	for (t = 1; t <= 60; t++) {
		s = mk(t, 1, false, 1);
		zs_traces_add(&s, now);
	}
	CHECK(zs_get(view_traces_skipped) == skipped + 10, "admission: %llu",
	      (unsigned long long)(zs_get(view_traces_skipped) - skipped));
	/* a second span of an admitted trace joins it whatever the rate */
	s = mk(1, 2, false, 1);
	zs_traces_add(&s, now);
	/* 1000 more over 25 seconds, every 40th erroring, every 10th slow */
	for (t = 100; t < 1100; t++) {
		s = mk(t, 1, t % 40 == 0, t % 10 == 0 ? 500 : 1);
		zs_traces_add(&s, now + (t - 100) / 40 * 1000000000ULL);
	}
	b.p[0] = 0;
	zs_traces_render_json(&b);
	CHECK(count(b.p, "\"trace_id\"") == ZS_TRACES_MAX, "bounded: %d",
	      count(b.p, "\"trace_id\""));
	CHECK(count(b.p, "\"error\":true,\"spans\"") == 25, "every erroring trace kept: %d",
	      count(b.p, "\"error\":true,\"spans\""));
	CHECK(count(b.p, "\"duration_ms\":500.000") >= ZS_TRACES_MAX / 4, "slow ones kept: %d",
	      count(b.p, "\"duration_ms\":500.000"));
	CHECK(strstr(b.p, "\"name\":\"GET /t/1099\"") != NULL, "the newest is there");
	CHECK(strncmp(b.p, "{\"traces\":[{", 12) == 0 && strstr(b.p, "]}\n"), "JSON shape");
	free(b.p);
	zs_traces_clear();
	return zs_test_done("traces");
}
