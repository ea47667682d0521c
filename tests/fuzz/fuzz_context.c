// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the trace-context parsers (traceparent, B3 single and
 * multi, tracestate) and the sampler's argument parsing, on arbitrary bytes.
 * A valid traceparent must format back to itself (lowercase, version 00).
 */
#include "context.h"
#include "sampler.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[56];
	struct zs_trace_ctx c;
	struct zs_sampler sm;
	size_t q = size / 4;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (zs_traceparent_parse(s, size, &c) == 0 && size == 55 && s[0] == '0' && s[1] == '0') {
		zs_traceparent_format(&c, out);
		if (memcmp(out, s, 55) != 0)
			abort(); /* parse and format disagree */
	}
	zs_b3_single_parse(s, &c);
	zs_tracestate_valid(s);
	if (zs_sampler_parse(&sm, "traceidratio", s) == 0 && (sm.ratio < 0 || sm.ratio > 1))
		abort();
	if (size >= 4) { /* four NUL-separated fields for the multi-header form */
		char *a = s, *b = s + q, *c2 = s + 2 * q, *d = s + 3 * q;

		s[q - 1 + (q == 0)] = 0;
		if (q) {
			s[2 * q - 1] = 0;
			s[3 * q - 1] = 0;
		}
		zs_b3_multi_parse(a, b, c2, d, &c);
	}
	free(s);
	return 0;
}
