/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kernel timestamps are CLOCK_MONOTONIC; spans want unix time. */
#ifndef ZS_CLOCK_H
#define ZS_CLOCK_H

#include <stdint.h>
#include <time.h>

extern int64_t zs_mono_to_unix_ns;

static inline uint64_t zs_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Re-reads the offset between the two clocks (NTP may step the wall clock). */
static inline void zs_clock_sync(void)
{
	uint64_t m1 = zs_now_ns(CLOCK_MONOTONIC), r = zs_now_ns(CLOCK_REALTIME),
		 m2 = zs_now_ns(CLOCK_MONOTONIC);

	zs_mono_to_unix_ns = (int64_t)r - (int64_t)(m1 + (m2 - m1) / 2);
}

static inline uint64_t zs_mono_to_unix(uint64_t mono)
{
	return (uint64_t)((int64_t)mono + zs_mono_to_unix_ns);
}

#endif
