// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: what a hostile or broken API server could send as a pod
 * (watch event objects, and whole watch lines), through json-c into the
 * bounded pod table, then looked up. The table must stay within its bound and every string
 * terminated.
 */
#include "k8s/pods.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zs_k8s_pods *p = zs_k8s_pods_new(8);
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	struct zs_k8s_meta m;
	uint64_t dropped = 0;

	if (!p || !tok)
		goto out;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)(size > 1 << 20 ? 1 << 20 : size));
	if (o) {
		zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, &dropped);
		zs_k8s_pods_apply(p, ZS_K8S_MODIFIED, o, &dropped);
		if (zs_k8s_pods_count(p) > 8)
			abort();
		if (zs_k8s_pods_lookup(p, "", "", &m))
			abort(); /* nothing matches empty keys */
		zs_k8s_pods_mark(p);
		zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, &dropped);
		zs_k8s_pods_sweep(p);
		zs_k8s_pods_apply(p, ZS_K8S_DELETED, o, &dropped);
		if (zs_k8s_pods_count(p) != 0)
			abort(); /* a deleted pod leaves nothing */
		json_object_put(o);
	}
	/* the same bytes as one line of a watch stream */
	if (p) {
		char *line = malloc(size + 1), rv[64] = "";

		if (line) {
			memcpy(line, data, size);
			line[size] = 0;
			zs_k8s_watch_line(p, line, rv, sizeof(rv), &dropped);
			if (strnlen(rv, sizeof(rv)) == sizeof(rv))
				abort();
			free(line);
		}
	}
out:
	if (tok)
		json_tokener_free(tok);
	zs_k8s_pods_free(p);
	return 0;
}
