/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Minimal test harness: CHECK counts, each test binary ends with the line
 * "N passed, N failed" and exits non-zero on any failure. */
#ifndef ZS_TEST_H
#define ZS_TEST_H
#include <stdio.h>
#include <string.h>

static int zs_t_pass, zs_t_fail;

#define CHECK(cond, ...)                                                                \
	do {                                                                            \
		if (cond) {                                                             \
			zs_t_pass++;                                                    \
		} else {                                                                \
			zs_t_fail++;                                                    \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                   \
			fputc('\n', stderr);                                            \
		}                                                                       \
	} while (0)

#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0, "'%s' != '%s'", (a), (b))

static inline int zs_test_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, zs_t_pass, zs_t_fail);
	return zs_t_fail ? 1 : 0;
}
#endif
