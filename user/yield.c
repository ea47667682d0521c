// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "yield.h"

#include "clock.h"
#include "log.h"
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_WATCHED 4

bool zs_yield_decide(struct zs_yield_state *st, double backlog, double idle_cpus, uint64_t now_ns)
{
	if (!st->normal) {
		if (backlog < ZS_YIELD_UP)
			return false;
		st->normal = true;
		st->busy_ns = now_ns;
		return true;
	}
	if (backlog > ZS_YIELD_DOWN) {
		st->busy_ns = now_ns;
		return false;
	}
	if (now_ns - st->busy_ns < ZS_YIELD_HOLD_NS || idle_cpus < ZS_YIELD_IDLE_CPUS)
		return false;
	st->normal = false;
	return true;
}

struct watched {
	pid_t tid;
	zs_backlog_fn backlog;
	void *arg;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;
static struct watched watched[MAX_WATCHED];
static struct zs_yield_state state;
static int n_watched, running, stopping;

static int set_class(pid_t tid, int policy)
{
	struct sched_param p = { 0 };

	return sched_setscheduler(tid, policy, &p) ? -errno : 0;
}

/* The CPUs' idle time since the last call, in CPUs (-1 when unknown), from
 * the first line of /proc/stat: user nice system idle iowait irq softirq
 * steal, in ticks. */
static double idle_cpus(void)
{
	static unsigned long long last_idle, last_total;
	unsigned long long v[8] = { 0 }, idle, total = 0;
	double r = -1;
	FILE *f = fopen("/proc/stat", "r");
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int i;

	if (!f)
		return -1;
	i = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (i < 5)
		return -1;
	for (i = 0; i < 8; i++)
		total += v[i];
	idle = v[3] + v[4];
	if (last_total && total > last_total && ncpu > 0)
		r = (double)(idle - last_idle) / (double)(total - last_total) * (double)ncpu;
	last_idle = idle;
	last_total = total;
	return r;
}

static void *watchdog_main(void *arg)
{
	struct timespec period = { 0, ZS_YIELD_PERIOD_MS * 1000000L };
	uint64_t last_cpu = 0;
	double idle = -1;

	pthread_setname_np(pthread_self(), "zs-yield");
	for (;;) {
		uint64_t now;
		double b, most = 0;
		int i;

		nanosleep(&period, NULL);
		now = zs_now_ns(CLOCK_MONOTONIC);
		if (now - last_cpu >= ZS_YIELD_HOLD_NS) {
			idle = idle_cpus();
			last_cpu = now;
		}
		pthread_mutex_lock(&lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		for (i = 0; i < n_watched; i++)
			if ((b = watched[i].backlog(watched[i].arg)) > most)
				most = b;
		if (zs_yield_decide(&state, most, idle, now)) {
			for (i = 0; i < n_watched; i++)
				set_class(watched[i].tid, state.normal ? SCHED_OTHER : SCHED_IDLE);
			if (state.normal)
				zs_count(agent_promotions);
			log_debug("agent threads: %s (backlog %.2f, %.2f CPUs idle)",
				  state.normal ? "normal scheduling" : "SCHED_IDLE", most, idle);
		}
		pthread_mutex_unlock(&lock);
	}
}

/* Can this process leave SCHED_IDLE once in it? Tried on a thread of its
 * own, which ends either way. */
static void *probe_main(void *arg)
{
	int *rc = arg;

	*rc = set_class(0, SCHED_IDLE);
	if (!*rc)
		*rc = set_class(0, SCHED_OTHER);
	return NULL;
}

int zs_yield_start(void)
{
	pthread_t t;
	int rc, probe = -EINVAL;

	rc = pthread_create(&t, NULL, probe_main, &probe);
	if (rc)
		return -rc;
	pthread_join(t, NULL);
	if (probe) {
		log_info(
			"agent threads keep normal scheduling: leaving SCHED_IDLE was refused (%s; "
			"CAP_SYS_NICE lets them yield the CPU to traced programs)",
			strerror(-probe));
		return 0;
	}
	rc = pthread_create(&thread, NULL, watchdog_main, NULL);
	if (rc)
		return -rc;
	running = 1;
	return 0;
}

void zs_yield_enter(zs_backlog_fn backlog, void *arg)
{
	pid_t tid = gettid();

	pthread_mutex_lock(&lock);
	if (running && !stopping && n_watched < MAX_WATCHED &&
	    !set_class(tid, state.normal ? SCHED_OTHER : SCHED_IDLE))
		watched[n_watched++] = (struct watched){ tid, backlog, arg };
	pthread_mutex_unlock(&lock);
}

void zs_yield_stop(void)
{
	int i;

	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = 1;
	for (i = 0; i < n_watched; i++)
		set_class(watched[i].tid, SCHED_OTHER);
	n_watched = 0;
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = 0;
}
