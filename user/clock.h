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

/* The absolute time ms milliseconds from now on clock clk, for timed waits. */
static inline struct timespec zs_deadline_ms(clockid_t clk, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
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
