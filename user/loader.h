/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Loads the kernel programs: checks the machine (root, BTF, tracefs),
 * probes what this kernel has, sets the knobs, loads, fills the scope maps
 * and attaches every program through a bpf_link (nothing stays attached
 * once the agent is gone, however it died).
 */
#ifndef ZS_LOADER_H
#define ZS_LOADER_H

#include <stdint.h>

#include "config.h"

struct ring_buffer;

struct zs_loader;

/* Returns NULL with a message already logged. */
struct zs_loader *zs_loader_open(const struct zs_config *cfg);
void zs_loader_close(struct zs_loader *l);

struct ring_buffer *zs_loader_ringbuf(struct zs_loader *l);

/* How full the ring is beyond the share at which the kernel has woken the
 * agent, 0..1; 1 when records waited a second with the consumer still (arg:
 * the loader; a zs_backlog_fn, see yield.h: one caller, the watchdog). */
double zs_loader_backlog(void *arg);

/* How full the ring is, 0..1 (arg: the loader). */
double zs_loader_ring_fill(void *arg);

/* Number of programs attached. */
int zs_loader_attached(const struct zs_loader *l);
/* 1: HTTPS is traced (TLS asked for and its programs loaded). */
int zs_loader_tls(const struct zs_loader *l);

/* Kernel drop counters summed over CPUs (for metrics). */
void zs_loader_read_drops(uint64_t *out);

/* Injector results summed over CPUs, by enum zs_inject_result. */
void zs_loader_read_inject(uint64_t *out);
/* Connections the kernel let go, by enum zs_let_go_reason (ZS_LET_GO__COUNT). */
void zs_loader_read_let_go(uint64_t *out);

#endif
