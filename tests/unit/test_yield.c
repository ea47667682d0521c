// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's threads yield the CPU (yield.h): the policy on its own, then
 * the watchdog moving a real thread between SCHED_IDLE and normal
 * scheduling as the backlog it reports rises and falls.
 */
#include "yield.h"
#include "zs_test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000ULL

static void check_policy(void)
{
	struct zs_yield_state st = { 0 };
	uint64_t t = 1000 * MS;

	CHECK(!zs_yield_decide(&st, 0.2, 2.0, t) && !st.normal, "under a quarter stays idle");
	CHECK(zs_yield_decide(&st, ZS_YIELD_UP, 0, t) && st.normal, "a quarter promotes");
	CHECK(!zs_yield_decide(&st, 0.0, 2.0, t + 500 * MS) && st.normal,
	      "held for a second after the backlog was last high");
	CHECK(!zs_yield_decide(&st, 0.2, 2.0, t + 900 * MS) && st.normal,
	      "a backlog above an eighth is busy");
	CHECK(!zs_yield_decide(&st, 0.1, 2.0, t + 1800 * MS) && st.normal,
	      "a second has not passed since the busy sample");
	CHECK(!zs_yield_decide(&st, 0.1, 0.1, t + 1950 * MS) && st.normal,
	      "no idle CPU: stays normal (it would starve again)");
	CHECK(!zs_yield_decide(&st, 0.0, -1, t + 1960 * MS) && st.normal,
	      "idle time unknown: stays normal");
	CHECK(zs_yield_decide(&st, 0.1, ZS_YIELD_IDLE_CPUS, t + 1970 * MS) && !st.normal,
	      "quiet for a second with CPU to spare: idle again");
	CHECK(zs_yield_decide(&st, 1.0, 0, t + 1980 * MS) && st.normal, "full: promoted at once");
}

static _Atomic int backlog_permille, quit, tid_seen;

static double backlog(void *arg)
{
	return atomic_load(&backlog_permille) / 1000.0;
}

static void *worker(void *arg)
{
	zs_yield_enter(backlog, NULL);
	atomic_store(&tid_seen, gettid());
	while (!atomic_load(&quit))
		usleep(1000);
	return NULL;
}

/* Waits up to ms for the thread's policy to become want. */
static int policy_becomes(pid_t tid, int want, int ms)
{
	for (; ms > 0; ms -= 10) {
		if (sched_getscheduler(tid) == want)
			return 1;
		usleep(10000);
	}
	return sched_getscheduler(tid) == want;
}

static void check_watchdog(void)
{
	pthread_t t;
	pid_t tid;

	if (geteuid() != 0) {
		printf("yield: not root, the watchdog part skipped\n");
		return;
	}
	CHECK(zs_yield_start() == 0, "watchdog started");
	pthread_create(&t, NULL, worker, NULL);
	while (!(tid = atomic_load(&tid_seen)))
		usleep(1000);
	CHECK(sched_getscheduler(tid) == SCHED_IDLE, "an entered thread runs as SCHED_IDLE");
	atomic_store(&backlog_permille, 300);
	CHECK(policy_becomes(tid, SCHED_OTHER, 500), "its backlog at 0.3: normal scheduling");
	atomic_store(&backlog_permille, 0);
	CHECK(sched_getscheduler(tid) == SCHED_OTHER, "still normal right after");
	/* a second to hold, the CPU sample's second: idle again within ~3 s
	 * (this test leaves the CPUs idle) */
	CHECK(policy_becomes(tid, SCHED_IDLE, 5000), "quiet, CPU to spare: SCHED_IDLE again");
	zs_yield_stop();
	CHECK(sched_getscheduler(tid) == SCHED_OTHER, "stopping leaves the threads normal");
	atomic_store(&quit, 1);
	pthread_join(t, NULL);
}

int main(void)
{
	check_policy();
	check_watchdog();
	return zs_test_done("yield");
}
