/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * With --yield=on (off by default: the apps pay 2-3 us more CPU a request in
 * context switches, docs/DESIGN.md) the agent yields the CPU to the programs
 * it traces. Its busy threads (the event loop, the span exporter) run as
 * SCHED_IDLE while the machine has CPU to spare: they use what the apps
 * leave idle, and an app thread that wakes preempts them at once instead of
 * waiting behind a batch of the agent's work (that wait was the agent's
 * share of the apps' tail latency). When the apps leave no CPU idle an
 * idle-class thread would starve and its backlog (the ring, the export
 * queue) overflow: a watchdog thread at normal priority samples the backlogs
 * every ZS_YIELD_PERIOD_MS and moves the threads, all together (they are one
 * pipeline: one promoted alone would flood the other), to normal scheduling
 * once one backlog reached ZS_YIELD_UP (or a backlog's thread left it
 * untouched for a second). They go back to SCHED_IDLE once every backlog
 * stayed at or under ZS_YIELD_DOWN for ZS_YIELD_HOLD_NS and the CPUs were
 * idle for at least ZS_YIELD_IDLE_CPUS over that time, so on a saturated
 * machine they stay normal instead of starving again. Leaving SCHED_IDLE
 * needs CAP_SYS_NICE (or an RLIMIT_NICE of 20): without it they stay normal.
 */
#ifndef ZS_YIELD_H
#define ZS_YIELD_H

#include <stdbool.h>
#include <stdint.h>

#define ZS_YIELD_PERIOD_MS 10
#define ZS_YIELD_UP 0.25
#define ZS_YIELD_DOWN (1.0 / 8)
#define ZS_YIELD_HOLD_NS 1000000000ULL
#define ZS_YIELD_IDLE_CPUS 0.25
/* A backlog left untouched this long by its thread (beyond its own wait)
 * reports full: the thread starves, however little waits. */
#define ZS_YIELD_STARVED_NS 1000000000ULL

/* The watched threads' class. */
struct zs_yield_state {
	bool normal;	  /* promoted: scheduled as SCHED_OTHER */
	uint64_t busy_ns; /* promoted: when a backlog was last above ZS_YIELD_DOWN */
};

/* The policy, given the largest backlog (0..1) at now_ns and the CPUs' idle
 * time over the last ZS_YIELD_HOLD_NS (in CPUs: 0.5 is half of one): true
 * when st changed class. */
bool zs_yield_decide(struct zs_yield_state *st, double backlog, double idle_cpus, uint64_t now_ns);

/* How full a thread's input is, 0..1; called from the watchdog thread. */
typedef double (*zs_backlog_fn)(void *arg);

/* Starts the watchdog. Returns 0, or -errno (nothing started). When the
 * process may not leave SCHED_IDLE once in it, yielding stays off (logged). */
int zs_yield_start(void);

/* The calling thread goes SCHED_IDLE, watched through backlog(arg). A no-op
 * when the watchdog is not running. */
void zs_yield_enter(zs_backlog_fn backlog, void *arg);

/* Every watched thread back to normal scheduling (to flush at exit), then
 * the watchdog stops. */
void zs_yield_stop(void);

#endif
