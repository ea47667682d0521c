// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "container.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * One path component: "<64 hex>" (docker v1, cgroupfs kubepods), or
 * "<prefix>-<64 hex>.scope" (systemd driver). conmon's own scope
 * (libpod-conmon-...) is not the container.
 */
static int component_id(const char *c, size_t n, struct zs_container *out)
{
	static const struct {
		const char *prefix, *runtime;
	} known[] = {
		{ "docker-", "docker" },
		{ "cri-containerd-", "containerd" },
		{ "crio-", "cri-o" },
		{ "libpod-", "podman" },
	};
	size_t i, pl;

	if (n == ZS_CONTAINER_ID_LEN && all_hex(c, n)) {
		memcpy(out->id, c, n);
		out->id[n] = 0;
		return 1;
	}
	if (n > 6 && memcmp(c + n - 6, ".scope", 6) == 0)
		n -= 6;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		pl = strlen(known[i].prefix);
		if (n == pl + ZS_CONTAINER_ID_LEN && memcmp(c, known[i].prefix, pl) == 0 &&
		    all_hex(c + pl, ZS_CONTAINER_ID_LEN)) {
			memcpy(out->id, c + pl, ZS_CONTAINER_ID_LEN);
			out->id[ZS_CONTAINER_ID_LEN] = 0;
			snprintf(out->runtime, sizeof(out->runtime), "%s", known[i].runtime);
			return 1;
		}
	}
	return 0;
}

/* "pod<uid>" (cgroupfs) or "kubepods-<qos>-pod<uid_with_underscores>.slice". */
static void component_pod(const char *c, size_t n, struct zs_container *out)
{
	const char *p = NULL;
	size_t i, k;

	for (i = 0; i + 3 < n; i++)
		if (memcmp(c + i, "pod", 3) == 0 && (i == 0 || c[i - 1] == '-'))
			p = c + i + 3;
	if (!p)
		return;
	k = (size_t)(c + n - p);
	if (k > 6 && memcmp(p + k - 6, ".slice", 6) == 0)
		k -= 6;
	if (k != 36)
		return;
	for (i = 0; i < k; i++) {
		char ch = p[i] == '_' ? '-' : p[i];

		if (!(isxdigit((unsigned char)ch) || ch == '-'))
			return;
		out->pod_uid[i] = ch;
	}
	out->pod_uid[k] = 0;
}

int zs_container_parse(const char *text, size_t len, struct zs_container *out)
{
	const char *line = text, *end = text + len;

	memset(out, 0, sizeof(*out));
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line)), *path, *c;
		const char *le = nl ? nl : end;
		struct zs_container cand;

		memset(&cand, 0, sizeof(cand));
		/* "hierarchy-ID:controllers:path": the path after the second ':' */
		path = memchr(line, ':', (size_t)(le - line));
		path = path ? memchr(path + 1, ':', (size_t)(le - path - 1)) : NULL;
		for (c = path ? path + 1 : le; c < le;) {
			const char *s = c + (*c == '/'), *e = memchr(s, '/', (size_t)(le - s));

			if (!e)
				e = le;
			if (s < e) {
				component_pod(s, (size_t)(e - s), &cand);
				component_id(s, (size_t)(e - s), &cand);
			}
			c = e;
		}
		if (cand.id[0]) {
			if (!cand.runtime[0] && cand.pod_uid[0])
				snprintf(cand.runtime, sizeof(cand.runtime), "containerd");
			else if (!cand.runtime[0] && strstr(line, "/docker/") &&
				 strstr(line, "/docker/") < le)
				snprintf(cand.runtime, sizeof(cand.runtime), "docker");
			*out = cand;
			return 1;
		}
		line = le + 1;
	}
	return 0;
}
