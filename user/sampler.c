// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sampler.h"

#include <stdlib.h>
#include <string.h>

int zs_sampler_parse(struct zs_sampler *s, const char *name, const char *arg)
{
	static const struct {
		const char *name;
		enum zs_sampler_kind root;
		bool ignore_parent;
	} names[] = {
		{ "always_on", ZS_SAMPLER_ALWAYS_ON, true },
		{ "always_off", ZS_SAMPLER_ALWAYS_OFF, true },
		{ "traceidratio", ZS_SAMPLER_RATIO, true },
		{ "parentbased_always_on", ZS_SAMPLER_ALWAYS_ON, false },
		{ "parentbased_always_off", ZS_SAMPLER_ALWAYS_OFF, false },
		{ "parentbased_traceidratio", ZS_SAMPLER_RATIO, false },
	};
	size_t i;

	s->root = ZS_SAMPLER_ALWAYS_ON;
	s->ignore_parent = false;
	s->ratio = 1.0;
	if (!name || !*name)
		name = "parentbased_always_on";
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0)
			break;
	if (i == sizeof(names) / sizeof(names[0]))
		return -1;
	s->root = names[i].root;
	s->ignore_parent = names[i].ignore_parent;
	if (s->root == ZS_SAMPLER_RATIO && arg && *arg) {
		char *end;
		double r = strtod(arg, &end);

		if (*end || !(r >= 0.0 && r <= 1.0))
			return -1;
		s->ratio = r;
	}
	return 0;
}

bool zs_sampler_decide(const struct zs_sampler *s, bool has_parent, bool parent_sampled,
		       const uint8_t trace_id[16])
{
	uint64_t x = 0;
	int i;

	if (has_parent && !s->ignore_parent)
		return parent_sampled;
	switch (s->root) {
	case ZS_SAMPLER_ALWAYS_ON:
		return true;
	case ZS_SAMPLER_ALWAYS_OFF:
		return false;
	case ZS_SAMPLER_RATIO:
		/* The trace id's low 8 bytes against the ratio, so every agent and
		 * SDK using this rule agrees on a trace. */
		for (i = 8; i < 16; i++)
			x = x << 8 | trace_id[i];
		return (double)(x >> 11) < s->ratio * (double)(1ull << 53);
	}
	return true;
}
